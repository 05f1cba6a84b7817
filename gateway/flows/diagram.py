"""A flow drawn as a diagram: its steps in layers from the entry down, and every transition between
them with the condition that takes it (a key, no input, a branch rule...). Read from the same `Flow`
the engine runs, so the picture cannot drift from what callers hear.

Plain values out (boxes and lines with coordinates): the console turns them into SVG; nothing here
knows about HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.flows.model import (
    BranchRule,
    BranchStep,
    EnqueueStep,
    Flow,
    HangupStep,
    MenuStep,
    SayStep,
    Step,
    TransferStep,
)
from gateway.flows.outline import Path, targets

NODE_WIDTH = 200
NODE_HEIGHT = 56
GAP_X = 40
GAP_Y = 72
MARGIN = 24
LOOP_ROOM = 90  # room on the right for the lines that go back up (a retry, a loop)
LABEL_CHARACTERS = 30

CONDITIONS = ("key", "no_input", "invalid", "next", "after", "no_answer", "when", "otherwise")
"""What takes a transition: `key` (its digit in `detail`), `no_input` (no or wrong keys once the
retries are used up), `invalid`, `next` (said, go on), `after` (left the queue without an agent),
`no_answer` (a transfer nobody answered), `when` (a branch rule, its conditions in `detail`),
`otherwise` (no branch rule matched)."""


@dataclass(frozen=True)
class Node:
    step: str
    kind: str
    label: str  # what the step says or does, shortened (`text` has it whole)
    text: str
    layer: int
    x: int
    y: int
    entry: bool = False
    offer: bool = False  # a queue whose callers are offered to continue in a messenger

    @property
    def centre(self) -> int:
        return self.x + NODE_WIDTH // 2


@dataclass(frozen=True)
class Edge:
    """One transition, as written in the flow."""

    source: str
    target: str
    condition: str  # one of CONDITIONS
    detail: str = ""  # the digit of a key, the conditions of a branch rule


@dataclass(frozen=True)
class Route:
    """One line drawn from a step to another, with every transition it stands for."""

    source: str
    target: str
    edges: tuple[Edge, ...]
    path: str  # SVG path data
    label_x: int
    label_y: int
    back: bool  # goes up or sideways (a loop), drawn around the right side


@dataclass(frozen=True)
class Diagram:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    routes: tuple[Route, ...]
    width: int
    height: int

    def node(self, step: str) -> Node:
        return next(n for n in self.nodes if n.step == step)


def layout(flow: Flow) -> Diagram:
    """The flow's steps in layers (a step's layer: the fewest transitions from the entry), ordered in
    each layer near the steps that lead to them; steps never reached go last."""
    edges = tuple(edge for sid, step in flow.steps.items() for edge in _edges(sid, step))
    layers = _layers(flow.entry, list(flow.steps), edges)
    _order(layers, edges)
    widest = max(len(layer) for layer in layers)
    width = 2 * MARGIN + widest * NODE_WIDTH + (widest - 1) * GAP_X + LOOP_ROOM
    height = 2 * MARGIN + len(layers) * NODE_HEIGHT + (len(layers) - 1) * GAP_Y
    nodes: dict[str, Node] = {}
    for number, layer in enumerate(layers):
        row = len(layer) * NODE_WIDTH + (len(layer) - 1) * GAP_X
        left = MARGIN + (widest * NODE_WIDTH + (widest - 1) * GAP_X - row) // 2
        for slot, sid in enumerate(layer):
            label, text = describe(flow.steps[sid])
            nodes[sid] = Node(
                sid,
                flow.steps[sid].kind,
                label,
                text,
                number,
                left + slot * (NODE_WIDTH + GAP_X),
                MARGIN + number * (NODE_HEIGHT + GAP_Y),
                entry=sid == flow.entry,
                offer=isinstance(step := flow.steps[sid], EnqueueStep) and step.wait.offer is not None,
            )
    ordered = [nodes[sid] for layer in layers for sid in layer]
    return Diagram(tuple(ordered), edges, tuple(_routes(nodes, edges)), width, height)


def describe(step: Step) -> tuple[str, str]:
    """(a short label, the whole text) of what a step says or where it sends the call, in the flow's
    own words (a branch says it on its lines)."""
    if isinstance(step, SayStep | HangupStep):
        text = step.text or (step.play if isinstance(step, SayStep) else None) or ""
    elif isinstance(step, MenuStep):
        text = step.prompt
    elif isinstance(step, EnqueueStep):
        text = step.queue
    elif isinstance(step, TransferStep):
        text = step.number or step.sip or ""
    else:
        text = ""
    short = text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1].rstrip() + "…"
    return short, text


def _edges(sid: str, step: Step) -> list[Edge]:
    rules = step.when if isinstance(step, BranchStep) else []
    return [Edge(sid, target, *_condition(step, path, rules)) for path, target in targets(step)]


def _condition(step: Step, path: Path, rules: Sequence[BranchRule]) -> tuple[str, str]:
    first = path[0]
    if first == "options":
        return "key", str(path[1])
    if first == "when":
        return "when", rule_summary(rules[int(path[1])])
    if first == "next" and isinstance(step, TransferStep):
        return "no_answer", ""
    return str(first), ""


def rule_summary(rule: BranchRule) -> str:
    """A branch rule's conditions as written: "open=false", "queue_size_at_least=20 (support)"."""
    written = rule.model_dump(exclude_none=True, exclude={"next", "queue"})
    parts = [f"{name}={_value(value)}" for name, value in written.items()]
    return ", ".join(parts) + (f" ({rule.queue})" if rule.queue else "")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _layers(entry: str, steps: list[str], edges: Iterable[Edge]) -> list[list[str]]:
    """A step's layer: the longest way to it from the entry, loops left out (a retry that leads back
    up does not push the steps down); steps never reached go last."""
    following: dict[str, list[str]] = {sid: [] for sid in steps}
    for edge in edges:
        if edge.target in following and edge.target not in following[edge.source]:
            following[edge.source].append(edge.target)
    finished: list[str] = []
    loops: set[tuple[str, str]] = set()
    walking: set[str] = set()

    def walk(sid: str) -> None:
        walking.add(sid)
        for target in following[sid]:
            if target in walking:
                loops.add((sid, target))
            elif target not in walking and target not in finished:
                walk(target)
        walking.discard(sid)
        finished.append(sid)

    walk(entry)
    depth = {sid: 0 for sid in reversed(finished)}  # every step before the steps it leads to
    for sid in depth:
        for target in following[sid]:
            if (sid, target) not in loops:
                depth[target] = max(depth[target], depth[sid] + 1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    found = [entry]  # in the order written, from the entry on: a menu's options stay in their order
    for sid in found:
        found += [target for target in following[sid] if target not in found]
    for sid in found:
        layers[depth[sid]].append(sid)
    unreached = [sid for sid in steps if sid not in depth]
    return layers + ([unreached] if unreached else [])


def _order(layers: list[list[str]], edges: Sequence[Edge]) -> None:
    """Each layer's steps sorted by where the steps leading to them sit (fewer crossing lines)."""
    slot = {sid: i for layer in layers[:1] for i, sid in enumerate(layer)}
    for number, layer in enumerate(layers[1:], start=1):
        placed = {sid for earlier in layers[:number] for sid in earlier}
        sources: dict[str, list[int]] = {sid: [] for sid in layer}
        for edge in edges:
            if edge.target in sources and edge.source in placed:
                sources[edge.target].append(slot[edge.source])
        layer.sort(key=lambda sid: sum(sources[sid]) / len(sources[sid]) if sources[sid] else len(layer))
        slot.update({sid: i for i, sid in enumerate(layer)})


def _routes(nodes: Mapping[str, Node], edges: Sequence[Edge]) -> list[Route]:
    grouped: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        grouped.setdefault((edge.source, edge.target), []).append(edge)
    down: dict[str, list[str]] = {}
    for source, target in grouped:
        if nodes[target].layer > nodes[source].layer:
            down.setdefault(source, []).append(target)
    routes = []
    for (source, target), each in grouped.items():
        start, end = nodes[source], nodes[target]
        if end.layer > start.layer:
            siblings = sorted(down[source], key=lambda t: (nodes[t].x, t))
            x1 = start.x + NODE_WIDTH * (siblings.index(target) + 1) // (len(siblings) + 1)
            y1, x2, y2 = start.y + NODE_HEIGHT, end.centre, end.y
            bend = (y2 - y1) // 2
            path = f"M{x1},{y1} C{x1},{y1 + bend} {x2},{y2 - bend} {x2},{y2}"
            label = ((x1 + x2) // 2, (y1 + y2) // 2)
            routes.append(Route(source, target, tuple(each), path, *label, back=False))
        else:
            x1, y1 = start.x + NODE_WIDTH, start.y + NODE_HEIGHT // 2
            x2, y2 = end.x + NODE_WIDTH, end.y + NODE_HEIGHT // 3
            reach = max(x1, x2) + LOOP_ROOM * 2 // 3
            path = f"M{x1},{y1} C{reach},{y1} {reach},{y2} {x2},{y2}"
            label = (max(x1, x2) + LOOP_ROOM // 3, (y1 + y2) // 2)
            routes.append(Route(source, target, tuple(each), path, *label, back=True))
    return routes
