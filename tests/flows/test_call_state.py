"""The call state's copy and serialisation, written out for speed, stay a deep copy and a full dump."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from typing import Any

from gateway.flows.state import CallState, DeflectionState


def full_state() -> CallState:
    return CallState(
        call_sid="CA" + "1" * 32,
        flow_id="ru-bank-support",
        flow_version=3,
        caller="+79161234567",
        called="+74952223344",
        locale="ru-RU",
        step="main_menu",
        path=["greeting", "main_menu"],
        choices=[{"step": "main_menu", "key": "1"}],
        retries={"main_menu": 1},
        queue="cards",
        content={"sms/ru-RU": 2, "voice/ru-RU": 1},
        deflection=DeflectionState(stage="consent", channels=["whatsapp"], number="+79161234567"),
    )


def containers(value: Any, where: str = "") -> list[tuple[str, Any]]:
    """Every list, dict and nested dataclass inside a state, with where it is."""
    found = []
    for f in fields(value):
        item = getattr(value, f.name)
        if isinstance(item, list | dict) or is_dataclass(item):
            found.append((where + f.name, item))
        if is_dataclass(item):
            found += containers(item, where + f.name + ".")
        if isinstance(item, list):
            found += [(f"{where}{f.name}[{i}]", x) for i, x in enumerate(item) if isinstance(x, list | dict)]
    return found


def test_a_copy_shares_no_container_with_its_original() -> None:
    original = full_state()
    clone = original.copy()
    assert clone == original
    for (name, mine), (_, theirs) in zip(containers(original), containers(clone), strict=True):
        assert mine is not theirs, f"{name} is shared between a state and its copy"
    clone.deflection.channels.append("telegram")
    clone.choices[0]["key"] = "2"
    clone.path.append("cards_queue")
    assert original == full_state()


def test_the_dump_holds_every_field_and_rebuilds_the_same_state() -> None:
    state = full_state()
    dumped = json.loads(json.dumps(state.to_dict()))
    assert set(dumped) == {f.name for f in fields(CallState)}
    assert set(dumped["deflection"]) == {f.name for f in fields(DeflectionState)}
    assert CallState.from_dict(dumped) == state
