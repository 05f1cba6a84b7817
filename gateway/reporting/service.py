"""The reports as one object (`Services.reports`): the console, the CLI and the API ask it, with a
period, a slice and filters, and get the same figures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.clock import Clock
from gateway.reporting import projector, queries
from gateway.reporting.facts import Windows
from gateway.reporting.figures import Costs, Deflection, Step, deflection, funnel
from gateway.reporting.queries import Period, Sums
from gateway.reporting.stats import Comparison, Counts, compare
from gateway.store.db import Database
from gateway.store.models import CallFact, ReportCursor


@dataclass(frozen=True)
class Variant:
    """One variant of an offer experiment: its figures, and against the baseline (the first variant,
    by name) its offer take rate and its net deflection at the short window."""

    variant: str
    figures: Slice
    take_rate: Comparison  # offers accepted / offers played
    net_deflection: Comparison  # net deflected (short window) / calls in queue


@dataclass(frozen=True)
class Experiment:
    flow_id: str
    queue: str
    variants: list[Variant]


@dataclass(frozen=True)
class Slice:
    """One value of a slice ("all" without one) and its figures."""

    key: str
    sums: Sums
    funnel: list[Step]
    deflection: Deflection


class Reports:
    def __init__(
        self, database: Database, clock: Clock, windows: Windows, costs: Costs, timezone: str
    ) -> None:
        self.database = database
        self.clock = clock
        self.windows = windows
        self.costs = costs
        self.timezone = timezone  # the default zone of a period

    def refresh(self) -> Iterator[projector.Folded]:
        """Fold every event not folded yet (a batch per transaction, yielded as it goes)."""
        return projector.fold_all(self.database, self.windows, self.clock.now())

    def rebuild(self) -> Iterator[projector.Folded]:
        """Forget every fact and sum and fold every event again (after the windows changed)."""
        with self.database.session() as session:
            projector.forget_all(session)
        return self.refresh()

    def period(self, start: str, end: str, tz: str | None = None) -> Period:
        return Period.parse(start, end, tz or self.timezone)

    def slices(self, period: Period, by: str | None = None, **filters: Any) -> list[Slice]:
        with self.database.session() as session:
            found = queries.sums(session, period, by, **filters)
        return [self._slice(key, sums) for key, sums in found]

    def total(self, period: Period, **filters: Any) -> Slice:
        return self.slices(period, None, **filters)[0]

    def _slice(self, key: str, sums: Sums) -> Slice:
        return Slice(key, sums, funnel(sums), deflection(sums, self.windows, self.costs))

    def refusals(self, period: Period, **filters: Any) -> list[tuple[str, int]]:
        """Why no offer was made, with the calls each reason stopped, most first."""
        with self.database.session() as session:
            found = queries.sums(session, period, "refusal", **filters)
        counted = [(key, sums["refused"]) for key, sums in found if key != queries.NONE and sums["refused"]]
        return sorted(counted, key=lambda item: (-item[1], item[0]))

    def experiments(self, period: Period, confidence: float = 0.95, **filters: Any) -> list[Experiment]:
        """Each offer experiment (a flow's queue whose calls were assigned variants) of the period:
        every variant's funnel and deflection, compared with the baseline's, with confidence intervals."""
        with self.database.session() as session:
            found = queries.grouped(session, period, ("flow_id", "queue", "variant"), **filters)
        by_experiment: dict[tuple[str, str], dict[str, Sums]] = {}
        for (flow_id, queue, variant), sums in found:
            if variant:
                by_experiment.setdefault((str(flow_id), str(queue)), {})[str(variant)] = sums
        experiments = []
        for (flow_id, queue), variants in sorted(by_experiment.items()):
            names = sorted(variants)
            base = self._slice(names[0], variants[names[0]])
            rows = []
            for name in names:
                figures = self._slice(name, variants[name])
                rows.append(
                    Variant(
                        name,
                        figures,
                        compare(_take(base), _take(figures), confidence),
                        compare(_net(base), _net(figures), confidence),
                    )
                )
            experiments.append(Experiment(flow_id, queue, rows))
        return experiments

    def facts(self, period: Period, **filters: Any) -> Iterator[CallFact]:
        with self.database.session() as session:
            yield from queries.facts(session, period, **filters)

    def slice_values(self) -> dict[str, list[str]]:
        with self.database.session() as session:
            return queries.slice_values(session)

    def folded_until(self) -> datetime | None:
        """When the fold last ran (None: never)."""
        with self.database.session() as session:
            cursor = session.get(ReportCursor, projector.CURSOR)
            return cursor.updated_at if cursor else None


def _take(figures: Slice) -> Counts:
    return figures.sums["accepted"], figures.sums["offered"]


def _net(figures: Slice) -> Counts:
    return figures.deflection.net_short, figures.sums["calls"]
