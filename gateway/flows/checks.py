"""Checks a schema cannot express: step references, reachability, and loops that never let go."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.flows.model import (
    BranchStep,
    EnqueueStep,
    Flow,
    HangupStep,
    MenuStep,
    SayStep,
    Step,
    TransferStep,
)

PathPart = str | int
Path = tuple[PathPart, ...]
Locate = Callable[[Path], "int | None"]

EXIT_KINDS = (HangupStep, EnqueueStep, TransferStep)
"""Steps that hand the call to something other than the flow (the caller cannot loop forever)."""
INLINE_KINDS = (SayStep, BranchStep)
"""Steps the engine chains within one response, without waiting for the caller."""


@dataclass(frozen=True)
class Finding:
    """A problem found in a flow, located by its path in the document (the loader adds file/line)."""

    path: Path
    step: str | None
    message: str


def targets(step: Step) -> list[tuple[Path, str]]:
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


def check_flow(flow: Flow) -> list[Finding]:
    """Every semantic problem of a schema-valid flow, in document order where it matters."""
    findings = _unknown_references(flow)
    reachable = _reachable(flow)
    findings += [
        Finding(("steps", sid), sid, f"step is never reached from entry '{flow.entry}'")
        for sid in flow.steps
        if sid not in reachable and flow.entry in flow.steps
    ]
    inline_loops = _inline_loops(flow, reachable)
    findings += [
        Finding(
            ("steps", loop[0]),
            loop[0],
            f"steps {_arrows(loop)} follow each other without waiting for the caller",
        )
        for loop in inline_loops
    ]
    looped = {sid for loop in inline_loops for sid in loop}
    findings += [
        Finding(
            ("steps", loop[0]),
            loop[0],
            f"steps {_arrows(loop)} loop with no way to hang up, enqueue or transfer",
        )
        for loop in _loops_without_exit(flow, reachable)
        if not looped & set(loop)
    ]
    findings += _menu_speech(flow)
    return findings


def _arrows(loop: Sequence[str]) -> str:
    return " -> ".join(f"'{sid}'" for sid in [*loop, loop[0]])


def _unknown_references(flow: Flow) -> list[Finding]:
    findings: list[Finding] = []
    if flow.entry not in flow.steps:
        findings.append(
            Finding(("entry",), None, f"entry refers to unknown step '{flow.entry}'{_hint(flow, flow.entry)}")
        )
    for sid, step in flow.steps.items():
        for path, target in targets(step):
            if target not in flow.steps:
                where = ".".join(str(p) for p in path)
                findings.append(
                    Finding(
                        ("steps", sid, *path),
                        sid,
                        f"{where} refers to unknown step '{target}'{_hint(flow, target)}",
                    )
                )
    return findings


def _hint(flow: Flow, wrong: str) -> str:
    close = difflib.get_close_matches(wrong, list(flow.steps), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _successors(flow: Flow, sid: str) -> list[str]:
    return [t for _, t in targets(flow.steps[sid]) if t in flow.steps]


def _reachable(flow: Flow) -> set[str]:
    seen: set[str] = set()
    todo = [flow.entry] if flow.entry in flow.steps else []
    while todo:
        sid = todo.pop()
        if sid not in seen:
            seen.add(sid)
            todo.extend(_successors(flow, sid))
    return seen


def _cycle_from(start: str, follow: Callable[[str], list[str]]) -> list[str] | None:
    """Walk first successors from `start` until a step repeats; return that cycle."""
    walk: list[str] = []
    sid: str | None = start
    while sid is not None and sid not in walk:
        walk.append(sid)
        nxt = follow(sid)
        sid = nxt[0] if nxt else None
    return walk[walk.index(sid) :] if sid is not None else None


def _inline_loops(flow: Flow, reachable: set[str]) -> list[list[str]]:
    """Cycles made only of say/branch steps: the engine would chain them forever."""
    inline = {sid for sid in reachable if isinstance(flow.steps[sid], INLINE_KINDS)}
    graph = {sid: [t for t in _successors(flow, sid) if t in inline] for sid in inline}
    loops: list[list[str]] = []
    seen: set[str] = set()
    # Colour DFS: an edge back to a grey step closes a cycle.
    colour: dict[str, int] = {}

    def visit(sid: str, stack: list[str]) -> None:
        colour[sid] = 1
        stack.append(sid)
        for nxt in graph[sid]:
            if colour.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                if not seen & set(cycle):
                    loops.append(cycle)
                    seen.update(cycle)
            elif nxt not in colour:
                visit(nxt, stack)
        stack.pop()
        colour[sid] = 2

    for sid in flow.steps:
        if sid in inline and sid not in colour:
            visit(sid, [])
    return loops


def _loops_without_exit(flow: Flow, reachable: set[str]) -> list[list[str]]:
    """Cycles from which no hangup, enqueue or transfer step can be reached."""
    can_exit = {sid for sid in reachable if isinstance(flow.steps[sid], EXIT_KINDS)}
    changed = True
    while changed:
        changed = False
        for sid in reachable - can_exit:
            if any(t in can_exit for t in _successors(flow, sid)):
                can_exit.add(sid)
                changed = True
    trapped = [sid for sid in flow.steps if sid in reachable and sid not in can_exit]
    loops: list[list[str]] = []
    reported: set[str] = set()
    for sid in trapped:
        cycle = _cycle_from(sid, lambda s: _successors(flow, s))
        if cycle and not reported & set(cycle):
            loops.append(cycle)
            reported.update(cycle)
    return loops


def _menu_speech(flow: Flow) -> list[Finding]:
    findings: list[Finding] = []
    for sid, step in flow.steps.items():
        if not isinstance(step, MenuStep):
            continue
        owners: dict[str, str] = {}
        for digit, option in step.options.items():
            for word in option.speech:
                key = word.casefold().strip()
                if key in owners and owners[key] != digit:
                    findings.append(
                        Finding(
                            ("steps", sid, "options", digit, "speech"),
                            sid,
                            f"speech word '{word}' is used by options '{owners[key]}' and '{digit}'",
                        )
                    )
                owners.setdefault(key, digit)
        if step.speech and not owners:
            findings.append(
                Finding(("steps", sid, "speech"), sid, "speech is on but no option lists speech words")
            )
    return findings
