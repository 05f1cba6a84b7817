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

NODE_WIDTH = 210
NODE_HEIGHT = 56
GAP_X = 36
GAP_Y = 72
MARGIN = 24
LANE_WIDTH = 14  # a line passing through a layer on its way further down keeps a lane of its own
LOOP_ROOM = 90  # room on the right for the lines that go back up (a retry, a loop)
LABEL_CHARACTERS = 24

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
    variants: tuple[str, ...] = ()  # the offer's experiment: "early 30 %", "late 70 %"

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
    """The flow's steps in layers from the entry down, ordered in each layer near the steps that lead
    to them (fewer crossing lines); a line to a step more than one layer down passes the layers in
    between through lanes of its own, never through a box."""
    edges = tuple(edge for sid, step in flow.steps.items() for edge in _edges(sid, step))
    grouped: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        grouped.setdefault((edge.source, edge.target), []).append(edge)
    layers = _layers(flow.entry, list(flow.steps), edges)
    layer_of = {sid: number for number, layer in enumerate(layers) for sid in layer}
    lanes: dict[tuple[str, str], list[str]] = {}
    for source, target in grouped:
        between = range(layer_of[source] + 1, layer_of[target])
        lanes[source, target] = [f"{source}>{target}@{number}" for number in between]
        for lane, number in zip(lanes[source, target], between, strict=True):
            layers[number].append(lane)
    links = [
        pair
        for (source, target), lane in lanes.items()
        if layer_of[target] > layer_of[source]
        for pair in zip([source, *lane], [*lane, target], strict=True)
    ]
    _order(layers, links)
    left, width = _places(layers, set(flow.steps))
    nodes: dict[str, Node] = {}
    for number, layer in enumerate(layers):
        for sid in layer:
            if sid not in flow.steps:
                continue
            step = flow.steps[sid]
            label, text = describe(step)
            offered = step.wait.offer if isinstance(step, EnqueueStep) else None
            experiment = (offered.variants if offered else None) or []
            variants = tuple(f"{v.id} {v.share} %" for v in experiment)
            y = MARGIN + number * (NODE_HEIGHT + GAP_Y)
            entry = sid == flow.entry
            nodes[sid] = Node(
                sid, step.kind, label, text, number, left[sid], y, entry, offered is not None, variants
            )
    height = 2 * MARGIN + len(layers) * NODE_HEIGHT + (len(layers) - 1) * GAP_Y
    ordered = [nodes[sid] for layer in layers for sid in layer if sid in nodes]
    routes = _routes(
        nodes, grouped, {pair: [left[lane] for lane in lane_ids] for pair, lane_ids in lanes.items()}
    )
    return Diagram(tuple(ordered), edges, tuple(routes), width + LOOP_ROOM, height)


def _places(layers: Sequence[Sequence[str]], steps: set[str]) -> tuple[dict[str, int], int]:
    """The x of each box's left side (of a lane: its middle), each layer centred; the widest's width."""

    def size(sid: str) -> int:
        return NODE_WIDTH if sid in steps else LANE_WIDTH

    rows = [sum(size(sid) for sid in layer) + GAP_X * (len(layer) - 1) for layer in layers]
    widest = max(rows)
    left: dict[str, int] = {}
    for layer, row in zip(layers, rows, strict=True):
        x = MARGIN + (widest - row) // 2
        for sid in layer:
            left[sid] = x if sid in steps else x + LANE_WIDTH // 2
            x += size(sid) + GAP_X
    return left, 2 * MARGIN + widest


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


def _order(layers: list[list[str]], links: Sequence[tuple[str, str]]) -> None:
    """Each layer sorted by where what leads to it sits in the layer above (fewer crossing lines);
    what nothing above leads to keeps its place."""
    above: dict[str, list[str]] = {}
    for upper, lower in links:
        above.setdefault(lower, []).append(upper)
    slot = {sid: i for i, sid in enumerate(layers[0])}
    for layer in layers[1:]:

        def weight(item: tuple[int, str]) -> float:
            i, sid = item
            sources = [slot[s] for s in above.get(sid, []) if s in slot]
            return sum(sources) / len(sources) if sources else float(i)

        layer[:] = [sid for _, sid in sorted(enumerate(layer), key=weight)]
        slot.update({sid: i for i, sid in enumerate(layer)})


def _routes(
    nodes: Mapping[str, Node],
    grouped: Mapping[tuple[str, str], list[Edge]],
    lanes: Mapping[tuple[str, str], list[int]],
) -> list[Route]:
    down: dict[str, list[tuple[int, str]]] = {}
    for (source, target), xs in lanes.items():
        if nodes[target].layer > nodes[source].layer:
            down.setdefault(source, []).append(((xs or [nodes[target].centre])[0], target))
    routes = []
    for (source, target), each in grouped.items():
        start, end = nodes[source], nodes[target]
        if end.layer > start.layer:
            siblings = [t for _, t in sorted(down[source])]
            x = start.x + NODE_WIDTH * (siblings.index(target) + 1) // (len(siblings) + 1)
            path, label = _down(x, start, end, lanes[source, target])
            routes.append(Route(source, target, tuple(each), path, *label, back=False))
        else:
            x1, y1 = start.x + NODE_WIDTH, start.y + NODE_HEIGHT // 2
            x2, y2 = end.x + NODE_WIDTH, end.y + NODE_HEIGHT // 3
            reach = max(x1, x2) + LOOP_ROOM * 2 // 3
            path = f"M{x1},{y1} C{reach},{y1} {reach},{y2} {x2},{y2}"
            label = (max(x1, x2) + LOOP_ROOM // 3, (y1 + y2) // 2)
            routes.append(Route(source, target, tuple(each), path, *label, back=True))
    return routes


def _down(x: int, start: Node, end: Node, lanes: Sequence[int]) -> tuple[str, tuple[int, int]]:
    """The path from the bottom of `start` (at `x`) down through its lanes to the top of `end`, and
    where its label goes: the middle of its first stretch, near the step it leaves."""
    y = start.y + NODE_HEIGHT
    stops = [*lanes, end.centre]
    first_top = MARGIN + (start.layer + 1) * (NODE_HEIGHT + GAP_Y)
    label = ((x + stops[0]) // 2, (y + first_top) // 2)
    path = f"M{x},{y}"
    for number, stop in enumerate(stops, start=start.layer + 1):
        top = MARGIN + number * (NODE_HEIGHT + GAP_Y)
        path += f" C{x},{y + GAP_Y // 2} {stop},{top - GAP_Y // 2} {stop},{top}"
        x, y = stop, top + NODE_HEIGHT
        if number < end.layer:
            path += f" L{x},{y}"  # straight down its lane, beside the boxes of that layer
    return path, label
