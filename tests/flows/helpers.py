"""Helpers for flow tests: a fake Urls, a call state factory, and TwiML parsed into elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from gateway.flows import CallState, Context, Flow, Outcome, parse_flow

ROOT = Path(__file__).resolve().parents[2]
FLOWS_DIR = ROOT / "ivr_flows"
NOW = 1_800_000_000.0


class FakeUrls:
    """URLs that say what they are, so tests can assert on them."""

    def step(self, step_id: str) -> str:
        return f"https://gw.test/step/{step_id}"

    def menu(self, step_id: str) -> str:
        return f"https://gw.test/menu/{step_id}"

    def wait(self) -> str:
        return "https://gw.test/wait"

    def enqueue_action(self) -> str:
        return "https://gw.test/enqueue-action"

    def offer(self) -> str:
        return "https://gw.test/offer"

    def dial_action(self, step_id: str) -> str:
        return f"https://gw.test/dial/{step_id}"


URLS = FakeUrls()


def xml(outcome_or_twiml: Outcome | Any) -> ET.Element:
    twiml = outcome_or_twiml.twiml if isinstance(outcome_or_twiml, Outcome) else outcome_or_twiml
    root = ET.fromstring(str(twiml))
    assert root.tag == "Response"
    return root


def verbs(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def kinds(outcome: Outcome) -> list[str]:
    return [event.kind for event in outcome.events]


def flow_from(text: str) -> Flow:
    return parse_flow(text, "<test>")


def state_for(flow: Flow, step: str | None = None, **changes: Any) -> CallState:
    state = CallState.start(
        flow,
        call_sid="CA" + "0" * 32,
        called="+14155550123",
        caller="+79161234567",
        caller_region="RU",
        caller_number_type="mobile",
    )
    state.step = step or flow.entry
    for name, value in changes.items():
        setattr(state, name, value)
    return state


def ctx(**values: Any) -> Context:
    values.setdefault("now", NOW)
    return Context(**values)
