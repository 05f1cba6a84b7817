"""The shape of a flow the graph checks look at: its steps and where each one leads. A flow with broken
steps has one too: what a broken step refers to is read from the text as written, and a step whose
references cannot be read is *open* (it may lead anywhere), so one broken step neither hides the
checks of the others nor makes findings of its own ("never reached") that only the break caused."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.flows.fields import STEP_ID_PATTERN
from gateway.flows.model import BranchStep, EnqueueStep, Flow, MenuStep, SayStep, Step, TransferStep

PathPart = str | int
Path = tuple[PathPart, ...]
Reference = tuple[Path, str]
"""Where in a step a reference is written, and the step id it names."""

KINDS = ("say", "menu", "enqueue", "transfer", "hangup", "branch")
EXIT_KINDS = frozenset({"hangup", "enqueue", "transfer"})
"""Steps that hand the call to something other than the flow (the caller cannot loop forever)."""
INLINE_KINDS = frozenset({"say", "branch"})
"""Steps the engine chains within one response, without waiting for the caller."""
REFERENCE_FIELDS = frozenset({"next", "no_input", "invalid", "after", "otherwise"})
"""The fields that name another step, in every kind of step and option."""

# kind -> (field, required) for the references written directly in the step.
_STEP_FIELDS: Mapping[str, tuple[tuple[str, bool], ...]] = {
    "say": (("next", True),),
    "menu": (("no_input", True), ("invalid", False)),
    "enqueue": (("after", False),),
    "transfer": (("next", False),),
    "hangup": (),
    "branch": (("otherwise", True),),
}


def targets(step: Step) -> list[Reference]:
    """(path inside the step, step id) for every step this one can lead to."""
    found: list[tuple[Path, str | None]] = []
    if isinstance(step, SayStep):
        found.append((("next",), step.next))
    elif isinstance(step, MenuStep):
        found += [(("options", digit, "next"), o.next) for digit, o in step.options.items()]
        found += [(("no_input",), step.no_input), (("invalid",), step.invalid)]
    elif isinstance(step, EnqueueStep):
        found.append((("after",), step.after))
    elif isinstance(step, TransferStep):
        found.append((("next",), step.next))
    elif isinstance(step, BranchStep):
        found += [(("when", i, "next"), rule.next) for i, rule in enumerate(step.when)]
        found.append((("otherwise",), step.otherwise))
    return [(path, target) for path, target in found if target is not None]


def read_references(raw: Any) -> tuple[list[Reference], bool]:
    """The references of a step that did not validate, read from the values as written, and whether
    they are all there (False: a reference is missing or is not a step id, or the kind is unknown)."""
    if not isinstance(raw, Mapping) or raw.get("kind") not in _STEP_FIELDS:
        return [], False
    found: list[Reference] = []
    complete = True

    def take(path: Path, value: Any, required: bool) -> None:
        nonlocal complete
        if value is None and not required:
            return
        if isinstance(value, str) and re.match(STEP_ID_PATTERN, value):
            found.append((path, value))
        else:
            complete = False

    kind = raw["kind"]
    if kind == "menu":
        options = raw.get("options")
        if not isinstance(options, Mapping):
            complete = False
        else:
            for digit, option in options.items():
                value = option.get("next") if isinstance(option, Mapping) else None
                take(("options", str(digit), "next"), value, True)
    if kind == "branch":
        rules = raw.get("when")
        if not isinstance(rules, list):
            complete = False
        else:
            for i, rule in enumerate(rules):
                take(("when", i, "next"), rule.get("next") if isinstance(rule, Mapping) else None, True)
    for name, required in _STEP_FIELDS[kind]:
        take((name,), raw.get(name), required)
    return found, complete


@dataclass(frozen=True)
class Outline:
    """What the graph checks see of a flow, whole or with broken parts."""

    entry: str | None
    """The entry step id; None when the entry itself is broken (missing, or not a step id)."""
    steps: Mapping[str, Step | None]
    """Every step written, in file order; None for a step that did not validate."""
    references: Mapping[str, Sequence[Reference]]
    """The references each step makes (of a broken step: those that could be read)."""
    kinds: Mapping[str, str]
    """The kind of each step (of a broken step: as written, if it is one)."""
    open: frozenset[str] = frozenset()
    """Broken steps whose kind or references could not all be read: they may lead anywhere."""
    lost: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Step ids written under a repeated key (a digit or step defined twice), which YAML dropped:
    the repeat is the problem, so the steps they reach are not "never reached" on its account."""

    @classmethod
    def of(cls, flow: Flow, lost: Mapping[str, Sequence[str]] | None = None) -> Outline:
        """The outline of a flow that validated."""
        references = {sid: targets(step) for sid, step in flow.steps.items()}
        kinds = {sid: step.kind for sid, step in flow.steps.items()}
        return cls(flow.entry, dict(flow.steps), references, kinds, lost=lost or {})

    def known(self, sid: str) -> list[str]:
        """The existing steps `sid` leads to, as written."""
        return [target for _, target in self.references[sid] if target in self.steps]
