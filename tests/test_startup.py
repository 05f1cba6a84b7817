"""Start-up: what the gateway checks and says before it takes a call."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import PROJECT_ROOT as ROOT
from gateway.settings import SettingsError


def test_start_up_warns_about_sms_templates_over_the_segment_limit(make_app: Any, caplog: Any) -> None:
    make_app(DEFLECT_MAX_SEGMENTS="1")
    warnings = [r.getMessage() for r in caplog.records if "segments" in r.getMessage()]
    assert any(w.startswith("SMS template ru-RU/whatsapp_link takes 2 segments (UCS-2") for w in warnings)
    assert not any("en-US/whatsapp_link" in w for w in warnings)


def test_start_up_refuses_a_flow_naming_a_missing_sms_template(make_app: Any, tmp_path: Any) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).resolve().parents[1] / "ivr_flows", flows)
    english = flows / "en_support.yaml"
    english.write_text(
        english.read_text(encoding="utf-8").replace("sms_template: whatsapp_link", "sms_template: gone"),
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as caught:
        make_app(DEFLECT_FLOWS_DIR=str(flows))
    problem = "en_support.yaml:80: step 'billing_queue': wait.offer.sms_template: no SMS template en-US/gone"
    assert problem in str(caught.value)


def test_start_up_warns_about_an_offered_messenger_that_is_not_configured(make_app: Any, caplog: Any) -> None:
    make_app(DEFLECT_TELEGRAM_BOT=None)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (
        "flow 'ru-bank-support': step 'cards_queue': wait.offer.channels.1: Telegram is not configured "
        "(DEFLECT_TELEGRAM_BOT): callers are never offered it"
    ) in warnings


def test_start_up_warns_about_a_handoff_route_that_routes_nothing(make_app: Any, caplog: Any) -> None:
    make_app(DEFLECT_HANDOFF_ROUTES="bank-cards=card,bank-crads=card")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w for w in warnings if w.startswith("DEFLECT_HANDOFF_ROUTES")] == [
        "DEFLECT_HANDOFF_ROUTES: 'bank-crads' is neither a queue an enqueue step uses nor a flow id "
        "(did you mean 'bank-cards'?): no chat is routed by it"
    ]


def test_start_up_refuses_flows_whose_locale_has_no_voice_texts(make_app: Any, tmp_path: Path) -> None:
    texts = tmp_path / "voice_texts"
    texts.mkdir()
    shutil.copy(ROOT / "voice_texts" / "en-US.yaml", texts)
    with pytest.raises(SettingsError) as caught:
        make_app(DEFLECT_VOICE_TEXTS_DIR=str(texts))
    message = str(caught.value)
    assert message.startswith("DEFLECT_FLOWS_DIR: the IVR flows have problems:\n")
    assert (
        f"{ROOT / 'ivr_flows' / 'ru_bank_support.yaml'}:110: step 'cards_queue'" in message
        and "no voice texts for ru-RU" in message
        and "there are voice texts for en-US" in message
    )


def test_processes_starting_at_once_on_an_empty_store_all_start(make_app: Any, monkeypatch: Any) -> None:
    """gunicorn starts its workers together: on a new database each finds the content store empty
    and imports the shipped files. The one that loses the race (on PostgreSQL: a unique version
    number) carries on with the winner's versions instead of failing to boot, which took the whole
    server down ("Worker failed to boot")."""
    from gateway.content.service import ContentService
    from gateway.services import content_kinds, start_content
    from gateway.store.content import ContentStore
    from tests.conftest import _wipe

    services = make_app().extensions["deflect"]
    _wipe(services)  # a new installation's database: migrated, nothing in it
    both_looked = threading.Barrier(2, timeout=20)
    is_empty = ContentStore.is_empty
    first_look = threading.local()

    def looked_at_the_same_time(store: ContentStore, kind: str) -> bool:
        empty = is_empty(store, kind)
        if kind == "flow" and not getattr(first_look, "done", False):  # the last kind looked at
            first_look.done = True
            both_looked.wait()  # neither imports before the other has seen every kind empty
        return empty

    monkeypatch.setattr(ContentStore, "is_empty", looked_at_the_same_time)
    failures: list[BaseException] = []

    def start() -> None:
        content = ContentService(
            ContentStore(services.database), content_kinds(services.settings), services.clock
        )
        try:
            start_content(content, services.settings)
        except BaseException as exc:  # what would have failed the worker's boot
            failures.append(exc)

    workers = [threading.Thread(target=start) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert failures == []
    live = ContentStore(services.database).live_pointers()
    assert {kind for kind, _ in live} == {"sms", "voice", "flow"}
    assert ("flow", "ru-bank-support") in live and ("sms", "ru-RU") in live
