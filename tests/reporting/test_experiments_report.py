"""The experiments report: each variant's figures from its calls, compared with the baseline's, with
intervals; a small experiment is "not yet significant", a clear difference is "lower" or "higher".
The same figures in the service, the CLI's --json and the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.events import Event
from gateway.reporting.stats import compare

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = "2026-03-02"


def _calls(
    app: Any, variant: str, start: int, calls: int, offered: int, accepted: int, queue: str = "bank-cards"
) -> None:
    """`calls` calls in the variant; the first `offered` are offered, the first `accepted` of those
    accept, consent and leave the queue (deflected); the others hang up waiting."""
    log = app.extensions["deflect"].call_log
    for n in range(start, start + calls):
        sid = f"CA{n:032x}"
        at = T0.timestamp() + n
        row = {
            "caller": None,
            "called": "+74950000000",
            "flow_id": "offer-experiment",
            "flow_version": 1,
            "locale": "ru-RU",
            "started_at": datetime.fromtimestamp(at, UTC),
        }
        events = [
            Event("queue.enqueued", {"step": "queue", "queue": queue}),
            Event("experiment.assigned", {"step": "queue", "queue": queue, "variant": variant}),
        ]
        if n - start < offered:
            events.append(Event("offer.played", {"queue": queue, "number": 1, "variant": variant}))
        if n - start < accepted:
            events += [
                Event("offer.accepted", {"queue": queue, "variant": variant}),
                Event("consent.granted", {"keyed_number": None}),
                Event("queue.result", {"result": "leave", "deflected": True, "waited_seconds": 50}),
            ]
        else:
            events.append(
                Event("queue.result", {"result": "hangup", "deflected": False, "waited_seconds": 80})
            )
        log.record(sid, events, at, call=row)


def test_a_clear_difference_is_significant_and_a_small_one_is_not_yet(app: Any, cli_env: None) -> None:
    _calls(app, "early", 0, calls=400, offered=300, accepted=120)
    _calls(app, "late", 1000, calls=400, offered=200, accepted=50)
    # A second, small experiment in another queue: 3 of 10 against 4 of 10.
    _calls(app, "a", 2000, calls=10, offered=10, accepted=3, queue="loans")
    _calls(app, "b", 3000, calls=10, offered=10, accepted=4, queue="loans")
    reports = app.extensions["deflect"].reports
    list(reports.refresh())
    found = reports.experiments(reports.period(DAY, DAY, "UTC"))
    assert [(e.flow_id, e.queue, [v.variant for v in e.variants]) for e in found] == [
        ("offer-experiment", "bank-cards", ["early", "late"]),
        ("offer-experiment", "loans", ["a", "b"]),
    ]
    cards, loans = found
    early, late = cards.variants
    assert (early.figures.sums["calls"], early.figures.sums["offered"], early.figures.sums["accepted"]) == (
        400,
        300,
        120,
    )
    assert (late.figures.sums["calls"], late.figures.sums["offered"], late.figures.sums["accepted"]) == (
        400,
        200,
        50,
    )
    assert late.take_rate == compare((120, 300), (50, 200))
    assert late.net_deflection == compare((120, 400), (50, 400))
    assert late.net_deflection.other_rate == pytest.approx(0.125)
    assert late.net_deflection.verdict == "lower" and late.net_deflection.significant
    assert late.take_rate.verdict == "lower"
    assert early.take_rate.difference == 0  # the baseline against itself
    assert loans.variants[1].net_deflection.verdict == "not yet significant"

    # The CLI's --json and the API: the same figures.
    printed = CliRunner().invoke(
        main, ["report", "experiments", "--from", DAY, "--to", DAY, "--tz", "UTC", "--json"]
    )
    assert printed.exit_code == 0, printed.output
    token = app.extensions["deflect"].tokens.add("experiments", actor="test")[1]
    answered = app.test_client().get(
        f"/api/v1/reports/experiments?from={DAY}&to={DAY}&tz=UTC",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answered.status_code == 200
    assert json.loads(printed.stdout) == answered.get_json()
    cards_json = answered.get_json()["experiments"][0]
    assert cards_json["baseline"] == "early"
    late_json = cards_json["variants"][1]
    assert late_json["net_deflection"]["verdict"] == "lower"
    assert late_json["net_deflection"]["other"] == [50, 400]
    assert [s["count"] for s in late_json["steps"]][:3] == [400, 200, 50]
    table = CliRunner().invoke(main, ["report", "experiments", "--from", DAY, "--to", DAY, "--tz", "UTC"])
    assert table.exit_code == 0
    assert "offer-experiment / loans" in table.stdout and "not yet significant" in table.stdout
    assert "12.5% [" in table.stdout  # late's net deflection with its interval
    sliced = app.test_client().get(
        f"/api/v1/reports/experiments?from={DAY}&to={DAY}&by=queue",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sliced.status_code == 400 and sliced.get_json()["parameter"] == "by"


def test_no_experiment_says_so(app: Any, cli_env: None) -> None:
    printed = CliRunner().invoke(main, ["report", "experiments", "--from", DAY, "--to", DAY])
    assert printed.exit_code == 0
    assert "no offer experiment ran in this period" in printed.stdout
