"""The flow diagram is laid out from the model the engine runs: every step a box, every transition a
line, boxes in layers from the entry down, none overlapping; and "where used" lists what a flow needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.flows import load_flow, parse_flow
from gateway.flows.crosschecks import uses
from gateway.flows.diagram import CONDITIONS, NODE_HEIGHT, NODE_WIDTH, Edge, layout
from gateway.flows.loader import flow_files
from gateway.flows.outline import targets
from tests.flows.helpers import FLOWS_DIR

SHIPPED = flow_files(FLOWS_DIR)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_step_of_a_shipped_flow_is_a_box(path: Path) -> None:
    flow = load_flow(path)

    diagram = layout(flow)

    assert sorted(node.step for node in diagram.nodes) == sorted(flow.steps)
    assert [node.step for node in diagram.nodes if node.entry] == [flow.entry]
    assert diagram.node(flow.entry).layer == 0
    for node in diagram.nodes:
        assert node.kind == flow.steps[node.step].kind
        assert 0 <= node.x and node.x + NODE_WIDTH <= diagram.width
        assert 0 <= node.y and node.y + NODE_HEIGHT <= diagram.height


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_transition_of_a_shipped_flow_is_an_edge(path: Path) -> None:
    flow = load_flow(path)

    diagram = layout(flow)

    written = sorted((sid, target) for sid, step in flow.steps.items() for _, target in targets(step))
    assert sorted((e.source, e.target) for e in diagram.edges) == written
    assert all(e.condition in CONDITIONS for e in diagram.edges)
    drawn = [edge for route in diagram.routes for edge in route.edges]
    assert sorted(drawn, key=repr) == sorted(diagram.edges, key=repr)  # each drawn once


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_no_two_boxes_overlap(path: Path) -> None:
    nodes = layout(load_flow(path)).nodes

    places = {(node.x, node.y) for node in nodes}

    assert len(places) == len(nodes)
    for node in nodes:
        same_row = sorted(other.x for other in nodes if other.y == node.y)
        assert all(b - a >= NODE_WIDTH for a, b in zip(same_row, same_row[1:], strict=False))


def test_a_step_comes_below_every_step_that_leads_to_it_except_in_a_loop() -> None:
    flow = load_flow(FLOWS_DIR / "en_support.yaml")

    diagram = layout(flow)

    # busy_notice leads to main_menu, which check_hours also reaches directly: the menu goes below both.
    assert diagram.node("main_menu").layer > diagram.node("busy_notice").layer
    for edge in diagram.edges:
        assert diagram.node(edge.target).layer > diagram.node(edge.source).layer
    assert not any(route.back for route in diagram.routes)


def test_the_conditions_say_what_takes_each_transition() -> None:
    flow = load_flow(FLOWS_DIR / "en_support.yaml")

    edges = set(layout(flow).edges)

    assert {
        Edge("main_menu", "billing_queue", "key", "1"),
        Edge("main_menu", "tech_queue", "key", "2"),
        Edge("main_menu", "tech_queue", "key", "0"),
        Edge("main_menu", "tech_queue", "no_input"),
        Edge("check_hours", "closed", "when", "open=false"),
        Edge("check_hours", "busy_notice", "when", "queue_size_at_least=20 (support)"),
        Edge("check_hours", "main_menu", "otherwise"),
        Edge("greeting", "check_hours", "next"),
        Edge("billing_queue", "goodbye", "after"),
    } <= edges
    bank = layout(load_flow(FLOWS_DIR / "ru_bank_support.yaml"))
    assert Edge("block_card", "block_failed", "no_answer") in bank.edges


LOOPING = """
id: looping
locale: en-US
voice: Polly.Joanna
entry: menu
steps:
  menu:
    kind: menu
    prompt: Press 1 to hear this again, 2 to wait.
    options:
      1: {next: again}
      2: {next: queue}
    no_input: queue
  again:
    kind: say
    text: Once more.
    next: menu
  queue:
    kind: enqueue
    queue: support
"""


def test_a_loop_back_up_is_drawn_around_the_side() -> None:
    diagram = layout(parse_flow(LOOPING, "looping.yaml"))

    back = [route for route in diagram.routes if route.back]

    assert [(r.source, r.target) for r in back] == [("again", "menu")]
    assert diagram.node("menu").layer == 0 and diagram.node("again").layer == 1


def test_where_used_lists_numbers_queues_and_texts() -> None:
    flow = load_flow(FLOWS_DIR / "en_support.yaml")

    used = uses(flow)

    assert used.numbers == ("+14155550123",) and used.default
    assert used.queues == ("billing", "support") and used.watched_queues == ()
    assert used.sms_templates == (("en-US", "whatsapp_link"),)
    assert used.voice_locale == "en-US" and "consent" in used.voice_keys


def test_a_flow_without_an_offer_needs_no_texts() -> None:
    used = uses(parse_flow(LOOPING, "looping.yaml"))

    assert used.sms_templates == () and used.voice_locale is None and used.voice_keys == ()
    assert used.queues == ("support",) and used.numbers == ()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_line_to_a_step_further_down_passes_between_the_boxes(path: Path) -> None:
    diagram = layout(load_flow(path))

    passes = [
        (int(x), int(y)) for route in diagram.routes for x, y in re.findall(r" L(\d+),(\d+)", route.path)
    ]

    for x, bottom in passes:  # straight down beside the boxes of one layer, from its top to its bottom
        for node in diagram.nodes:
            if node.y + NODE_HEIGHT == bottom:
                assert not node.x <= x <= node.x + NODE_WIDTH, (node.step, x)
    if path.name == "ru_bank_support.yaml":
        assert passes  # the bank flow has lines that pass a layer (queues to the goodbye)


def test_a_queue_whose_offer_runs_an_experiment_lists_its_variants() -> None:
    flow = load_flow(Path(__file__).parent / "offer_experiment.yaml")
    node = layout(flow).node("queue")
    assert node.offer and node.variants == ("early 50 %", "late 50 %")
    shipped = layout(load_flow(FLOWS_DIR / "ru_bank_support.yaml"))
    assert all(n.variants == () for n in shipped.nodes)
