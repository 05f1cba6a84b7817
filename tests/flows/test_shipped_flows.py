"""Every flow in ivr_flows/ loads, validates, fits the published schema and renders every step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.flows import QUEUE_RESULTS, FlowSet, load_flow, load_flows, run_step, validate_path
from gateway.flows.loader import flow_files
from gateway.flows.model import render_schema
from tests.flows.helpers import FLOWS_DIR, ROOT, URLS, ctx, state_for, xml

SHIPPED = flow_files(FLOWS_DIR)
SCHEMA = ROOT / "gateway" / "flows" / "schema.json"


def test_flows_are_shipped() -> None:
    assert {p.name for p in SHIPPED} >= {"ru_bank_support.yaml", "en_support.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_flow_loads_without_problems(path: Path) -> None:
    assert validate_path(path) == []
    flow = load_flow(path)
    assert flow.steps[flow.entry]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
@pytest.mark.parametrize("open_", [True, False])
def test_every_step_of_a_shipped_flow_renders_twiml(path: Path, open_: bool) -> None:
    flow = load_flow(path)
    for step_id in flow.steps:
        outcome = run_step(flow, step_id, state_for(flow), ctx(open=open_), URLS)
        assert len(xml(outcome)) > 0, step_id
        voiced = [say for say in xml(outcome).iter("Say")]
        assert all(s.get("voice") == flow.voice and s.get("language") == flow.locale for s in voiced)


def test_shipped_directory_is_a_flow_set_with_one_default() -> None:
    flows = load_flows(FLOWS_DIR)
    assert isinstance(flows, FlowSet)
    assert flows.default.id == "en-support"
    assert flows.for_number("+74952223344").id == "ru-bank-support"
    assert flows.for_number("+4930123456").id == "en-support"
    assert validate_path(FLOWS_DIR) == []


def test_russian_flow_offers_whatsapp_first_and_keeps_moscow_hours() -> None:
    flow = load_flow(FLOWS_DIR / "ru_bank_support.yaml")
    assert flow.locale == "ru-RU" and flow.hours is not None
    assert flow.hours.timezone == "Europe/Moscow"
    assert flow.queue_names() == ["bank-cards", "bank-loans", "bank-other"]
    for queue_step in ("cards_queue", "loans_queue", "other_queue"):
        offer = flow.steps[queue_step].wait.offer  # type: ignore[union-attr]
        assert offer is not None and offer.channels[0] == "whatsapp"
        assert (offer.after_seconds, offer.min_position) == (45, 3)


def test_published_schema_is_up_to_date() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == render_schema(), (
        "gateway/flows/schema.json is stale; regenerate it with: .venv/bin/python -c "
        "\"from gateway.flows.model import render_schema; print(render_schema(), end='')\" "
        "> gateway/flows/schema.json"
    )


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_flow_matches_published_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    # JSON has string keys and no dates: what an editor plugin would see.
    document = json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))
    jsonschema.validate(document, json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_queue_results_are_all_nine_of_twilio() -> None:
    assert len(set(QUEUE_RESULTS)) == 9
