"""Checks a schema cannot express: step references, reachability, and loops that never let go.

They run on a flow's outline, so they also run on a flow with broken steps, and report only what holds
whatever the broken steps turn out to say: a step that only a broken step (or a reference to an
unknown step) may reach is not "never reached", and a loop through a broken step is not a loop.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.flows.model import Flow, MenuStep
from gateway.flows.outline import EXIT_KINDS, INLINE_KINDS, Outline, Path


@dataclass(frozen=True)
class Finding:
    """A problem found in a flow, located by its path in the document (the loader adds file/line)."""

    path: Path
    step: str | None
    message: str


def check_flow(flow: Flow) -> list[Finding]:
    """Every semantic problem of a schema-valid flow."""
    return check_outline(Outline.of(flow))


def check_outline(outline: Outline) -> list[Finding]:
    """Every semantic problem of a flow's outline that its broken parts (if any) cannot explain."""
    findings = _unknown_references(outline)
    reached = _maybe_reached(outline)
    if reached is not None:
        findings += [
            Finding(("steps", sid), sid, f"step is never reached from entry '{outline.entry}'")
            for sid in outline.steps
            if sid not in reached
        ]
    reachable = set(outline.steps) if reached is None else reached
    inline_loops = _inline_loops(outline, reachable)
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
        for loop in _loops_without_exit(outline, reachable)
        if not looped & set(loop)
    ]
    findings += _menu_speech(outline)
    return findings


def _arrows(loop: Sequence[str]) -> str:
    return " -> ".join(f"'{sid}'" for sid in [*loop, loop[0]])


def _unknown_references(outline: Outline) -> list[Finding]:
    findings: list[Finding] = []
    entry = outline.entry
    if entry is not None and entry not in outline.steps:
        findings.append(
            Finding(("entry",), None, f"entry refers to unknown step '{entry}'{_hint(outline, entry)}")
        )
    for sid, references in outline.references.items():
        for path, target in references:
            if target not in outline.steps:
                where = ".".join(str(p) for p in path)
                findings.append(
                    Finding(
                        ("steps", sid, *path),
                        sid,
                        f"{where} refers to unknown step '{target}'{_hint(outline, target)}",
                    )
                )
    return findings


def _closest(outline: Outline, wrong: str) -> str | None:
    close = difflib.get_close_matches(wrong, list(outline.steps), n=1)
    return close[0] if close else None


def _hint(outline: Outline, wrong: str) -> str:
    meant = _closest(outline, wrong)
    return f" (did you mean '{meant}'?)" if meant else ""


def _leads_to(outline: Outline, sid: str) -> list[str] | None:
    """The steps `sid` may lead to, a reference to an unknown step counting as one to the step it
    resembles (what the hint proposes); None: any step (it is open, or nothing resembles the name)."""
    if sid in outline.open:
        return None
    found: list[str] = []
    for target in [t for _, t in outline.references[sid]] + list(outline.lost.get(sid, ())):
        meant = target if target in outline.steps else _closest(outline, target)
        if meant is None:
            return None
        found.append(meant)
    return found


def _maybe_reached(outline: Outline) -> set[str] | None:
    """The steps a caller may reach from the entry; None when that cannot be told (the entry is
    broken, or a step on the way may lead anywhere): then no step is said to be never reached."""
    entry = outline.entry
    start = None if entry is None else entry if entry in outline.steps else _closest(outline, entry)
    if start is None:
        return None
    seen: set[str] = set()
    todo = [start]
    while todo:
        sid = todo.pop()
        if sid not in seen:
            seen.add(sid)
            leads = _leads_to(outline, sid)
            if leads is None:
                return None
            todo.extend(leads)
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


def _inline_loops(outline: Outline, reachable: set[str]) -> list[list[str]]:
    """Cycles made only of say/branch steps: the engine would chain them forever."""
    inline = {sid for sid in reachable - outline.open if outline.kinds.get(sid) in INLINE_KINDS}
    graph = {sid: [t for t in outline.known(sid) if t in inline] for sid in inline}
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

    for sid in outline.steps:
        if sid in inline and sid not in colour:
            visit(sid, [])
    return loops


def _loops_without_exit(outline: Outline, reachable: set[str]) -> list[list[str]]:
    """Cycles from which no hangup, enqueue or transfer step can be reached. A step that may lead
    anywhere (open, or naming an unknown step) might lead to one: it counts as a way out."""
    can_exit = {
        sid
        for sid in reachable
        if sid in outline.open
        or outline.kinds.get(sid) in EXIT_KINDS
        or any(t not in outline.steps for _, t in outline.references[sid])
    }
    changed = True
    while changed:
        changed = False
        for sid in reachable - can_exit:
            ways = outline.known(sid) + [t for t in outline.lost.get(sid, ()) if t in outline.steps]
            if any(t in can_exit for t in ways):
                can_exit.add(sid)
                changed = True
    trapped = [sid for sid in outline.steps if sid in reachable and sid not in can_exit]
    loops: list[list[str]] = []
    reported: set[str] = set()
    for sid in trapped:
        cycle = _cycle_from(sid, outline.known)
        if cycle and not reported & set(cycle):
            loops.append(cycle)
            reported.update(cycle)
    return loops


def _menu_speech(outline: Outline) -> list[Finding]:
    findings: list[Finding] = []
    for sid, step in outline.steps.items():
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
