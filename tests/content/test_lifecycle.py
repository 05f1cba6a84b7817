"""One lifecycle for everything callers hear and read: a draft is tried while calls follow the live
version, a publish reaches every process within seconds, a rollback names its target, and files go
out and come back byte for byte."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from gateway.content.registry import CHECK_INTERVAL_SECONDS
from gateway.content.service import ContentError
from tests.support.calls import Call

ROOT = Path(__file__).resolve().parents[2]
BANK_FLOW = ROOT / "ivr_flows" / "ru_bank_support.yaml"
GREETING = "Вы позвонили в службу поддержки банка"
EDITED = "Вы позвонили в Пример Банк"
TESTER = "+79030000001"


class IntervalTimer:
    """Stands in for time.monotonic in a registry: the interval between two checks, moved by hand."""

    def __init__(self) -> None:
        self.now = time.monotonic()  # where the registry's first check left it

    def __call__(self) -> float:
        return self.now


def _process(make_app: Any, **settings: str) -> tuple[Any, IntervalTimer]:
    """One gateway process: its own app, services and content registry, on the shared database."""
    app = make_app(**settings)
    timer = IntervalTimer()
    app.extensions["deflect"].registry.monotonic = timer
    return app, timer


def _edited_flow() -> dict[str, str]:
    text = BANK_FLOW.read_text(encoding="utf-8").replace("Вы позвонили в службу поддержки банка", EDITED)
    return {BANK_FLOW.name: text}


def _greeting(app: Any, caller: str = "+79161234567") -> str:
    return Call(app.test_client(), caller=caller).incoming().said()


def test_a_draft_is_played_to_test_callers_while_everyone_else_hears_the_live_version(make_app: Any) -> None:
    app, _ = _process(make_app, DEFLECT_TEST_CALLERS=TESTER)
    content = app.extensions["deflect"].content

    draft = content.save_draft("flow", _edited_flow(), actor="anna")

    assert draft.key == "ru-bank-support" and draft.problems == [] and draft.based_on == 1
    assert EDITED in _greeting(app, caller=TESTER)
    assert GREETING in _greeting(app)
    assert content.status("flow", "ru-bank-support").live == 1


def test_a_call_keeps_the_version_it_started_on(make_app: Any) -> None:
    app, timer = _process(make_app)
    services = app.extensions["deflect"]
    started_before = Call(app.test_client())
    greeting = started_before.incoming()
    services.content.save_draft("flow", _edited_flow(), actor="anna")
    services.content.publish("flow", "ru-bank-support", actor="anna", comment="new greeting")
    timer.now += CHECK_INTERVAL_SECONDS

    started_after = Call(app.test_client())
    assert EDITED in started_after.incoming().said()
    assert started_before.press(greeting, "1").status == 200  # its menu is still version 1's
    assert services.voice.states.load(started_before.call_sid).flow_version == 1
    assert services.voice.states.load(started_after.call_sid).flow_version == 2


def test_a_publish_reaches_every_process_within_seconds(make_app: Any) -> None:
    first, _ = _process(make_app)
    second, timer = _process(make_app)
    assert GREETING in _greeting(second)

    content = first.extensions["deflect"].content
    content.save_draft("flow", _edited_flow(), actor="anna")
    outcome = content.publish("flow", "ru-bank-support", actor="anna", comment="new greeting")

    assert outcome.version == 2 and outcome.created
    assert CHECK_INTERVAL_SECONDS <= 5
    timer.now += CHECK_INTERVAL_SECONDS  # the other process's next check is due
    assert EDITED in _greeting(second)


def test_rollback_names_its_target_and_twice_in_a_row_it_stays(make_app: Any) -> None:
    app, timer = _process(make_app)
    content = app.extensions["deflect"].content
    content.save_draft("flow", _edited_flow(), actor="anna")
    content.publish("flow", "ru-bank-support", actor="anna", comment="v2")

    first = content.rollback("flow", "ru-bank-support", 1, actor="boris")
    second = content.rollback("flow", "ru-bank-support", 1, actor="boris")

    assert (first.version, second.version) == (1, 1)
    assert "live already" in second.message
    assert [v.version for v in content.history("flow", "ru-bank-support")] == [2, 1]
    timer.now += CHECK_INTERVAL_SECONDS
    assert GREETING in _greeting(app)


def test_publishing_an_unchanged_draft_makes_no_version(make_app: Any) -> None:
    content = make_app().extensions["deflect"].content
    content.save_draft("flow", {BANK_FLOW.name: BANK_FLOW.read_text(encoding="utf-8")}, actor="anna")

    outcome = content.publish("flow", "ru-bank-support", actor="anna", comment="same")

    assert (outcome.version, outcome.created) == (1, False)
    assert len(content.history("flow", "ru-bank-support")) == 1


def test_a_draft_started_before_someone_else_published_needs_force(make_app: Any) -> None:
    content = make_app().extensions["deflect"].content
    content.save_draft("flow", _edited_flow(), actor="anna")
    content.publish("flow", "ru-bank-support", actor="anna", comment="v2")
    content.rollback("flow", "ru-bank-support", 1, actor="boris")
    content.save_draft("flow", _edited_flow(), actor="anna")
    content.rollback("flow", "ru-bank-support", 2, actor="boris")

    with pytest.raises(ContentError, match="started from version 1, and version 2 is live"):
        content.publish("flow", "ru-bank-support", actor="anna", comment="again")
    assert content.publish("flow", "ru-bank-support", actor="anna", comment="again", force=True).version == 2


def test_a_draft_with_problems_is_kept_but_never_published(make_app: Any) -> None:
    content = make_app().extensions["deflect"].content
    broken = {BANK_FLOW.name: BANK_FLOW.read_text(encoding="utf-8").replace("kind: menu", "kind: menuu", 1)}

    draft = content.save_draft("flow", broken, actor="anna", key="ru-bank-support")

    assert draft.problems and "ru_bank_support.yaml:" in draft.problems[0]
    with pytest.raises(ContentError, match="the draft has problems"):
        content.publish("flow", "ru-bank-support", actor="anna", comment="broken")


def test_export_then_import_round_trips_byte_for_byte_and_makes_no_version(
    make_app: Any, tmp_path: Path
) -> None:
    content = make_app().extensions["deflect"].content
    directories = {"sms": tmp_path / "sms_templates", "flow": tmp_path / "ivr_flows"}

    written = content.export(directories)

    for path in written:
        shipped = ROOT / path.relative_to(tmp_path)
        assert path.read_bytes() == shipped.read_bytes(), path
    assert {p.relative_to(tmp_path).parts[0] for p in written} == {"sms_templates", "ivr_flows"}
    before = [(i.kind, i.key, i.versions) for i in content.items()]
    outcomes = content.import_files(directories, actor="ci")
    assert all(not o.created and o.message.startswith("unchanged") for o in outcomes)
    assert [(i.kind, i.key, i.versions) for i in content.items()] == before


def test_an_import_publishes_only_what_changed(make_app: Any, tmp_path: Path) -> None:
    content = make_app().extensions["deflect"].content
    directories = {"sms": tmp_path / "sms_templates", "flow": tmp_path / "ivr_flows"}
    content.export(directories)
    (tmp_path / "ivr_flows" / BANK_FLOW.name).write_text(_edited_flow()[BANK_FLOW.name], encoding="utf-8")

    outcomes = {(o.kind, o.key): o for o in content.import_files(directories, actor="ci")}

    assert outcomes[("flow", "ru-bank-support")].version == 2
    assert sum(o.created for o in outcomes.values()) == 1


def test_every_change_is_in_the_audit_log(make_app: Any) -> None:
    content = make_app().extensions["deflect"].content
    content.save_draft("flow", _edited_flow(), actor="anna")
    content.publish("flow", "ru-bank-support", actor="anna", comment="new greeting")
    content.rollback("flow", "ru-bank-support", 1, actor="boris")

    entries = content.store.audit("flow:ru-bank-support")

    assert [(e.action, e.actor, e.before, e.after) for e in entries] == [
        ("content.rolled_back", "boris", "v2", "v1"),
        ("content.published", "anna", "v1", "v2"),
        ("draft.saved", "anna", "v1", entries[2].after),
        ("content.imported", "system", None, "v1"),
    ]


def test_an_import_with_one_broken_file_imports_nothing_and_names_every_problem(
    make_app: Any, tmp_path: Path
) -> None:
    content = make_app().extensions["deflect"].content
    directories = {"sms": tmp_path / "sms_templates", "flow": tmp_path / "ivr_flows"}
    content.export(directories)
    (tmp_path / "ivr_flows" / BANK_FLOW.name).write_text(_edited_flow()[BANK_FLOW.name], encoding="utf-8")
    broken = tmp_path / "sms_templates" / "en-US" / "whatsapp_link.txt"
    broken.write_text("{{ brand }}: {{ lnk }}", encoding="utf-8")

    outcomes = {(o.kind, o.key): o for o in content.import_files(directories, actor="ci")}

    assert not any(o.created for o in outcomes.values())
    assert "unknown variable 'lnk'" in outcomes[("sms", "en-US")].problems[0]
    assert outcomes[("flow", "ru-bank-support")].message == "not imported: other files have problems"
    assert [v.version for v in content.history("flow", "ru-bank-support")] == [1]


def test_an_import_that_fails_half_way_stores_none_of_it(make_app: Any, tmp_path: Path) -> None:
    """The versions of one import are stored in one transaction: when the database refuses the second,
    the first is not live either (a caller's flow never speaks texts that were not stored with it)."""
    from sqlalchemy import event

    services = make_app().extensions["deflect"]
    content = services.content
    directories = {"sms": tmp_path / "sms_templates", "flow": tmp_path / "ivr_flows"}
    content.export(directories)
    (tmp_path / "ivr_flows" / BANK_FLOW.name).write_text(_edited_flow()[BANK_FLOW.name], encoding="utf-8")
    edited_sms = tmp_path / "sms_templates" / "en-US" / "whatsapp_link.txt"
    edited_sms.write_text(edited_sms.read_text(encoding="utf-8") + " ", encoding="utf-8")
    versions_written: list[str] = []

    def refuse_the_second_version(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO content_versions"):
            versions_written.append(statement)
            if len(versions_written) == 2:
                raise RuntimeError("the database refused the write")

    engine = services.database.engine
    event.listen(engine, "before_cursor_execute", refuse_the_second_version)
    try:
        with pytest.raises(RuntimeError, match="refused"):
            content.import_files(directories, actor="ci")
    finally:
        event.remove(engine, "before_cursor_execute", refuse_the_second_version)

    assert len(versions_written) == 2
    assert [v.version for v in content.history("flow", "ru-bank-support")] == [1]
    assert [v.version for v in content.history("sms", "en-US")] == [1]
    assert content.import_files(directories, actor="ci")  # the same files, once the database takes them
    assert [v.version for v in content.history("flow", "ru-bank-support")] == [2, 1]
