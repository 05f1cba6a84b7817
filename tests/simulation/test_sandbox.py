"""The sandbox a console test call plays in: the installation's content and settings, and nothing of its
database, Redis, Twilio account or logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import redis

from gateway.logs import ContextFilter, sandbox_var
from gateway.messaging.providers import DevInboxProvider
from gateway.simulation.sandbox import Sandboxes
from tests.support.calls import ACCOUNT_SID

ROOT = Path(__file__).resolve().parents[2]


def sandboxes(app: Any) -> Sandboxes:
    found: Sandboxes = app.extensions["deflect.sandboxes"]
    return found


def test_a_sandbox_has_its_own_database_and_redis_and_no_twilio_account(make_app: Any) -> None:
    app = make_app(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_API_BASE_URL="http://127.0.0.1:9",
        TWILIO_SMS_FROM="+77012345678",
        DEFLECT_LINE_TYPE_LOOKUP="always",
    )
    real = app.extensions["deflect"]
    with sandboxes(app).open(at=real.clock.time(), drafts=False) as box:
        settings = box.services.settings
        assert settings.database_url != real.settings.database_url
        assert settings.redis_url != real.settings.redis_url
        assert not settings.twilio_enabled and settings.deflect_line_type_lookup == "off"
        assert isinstance(box.services.provider, DevInboxProvider)
        assert list(box.services.handoff_adapters) == ["card"]
        assert settings.deflect_brand == real.settings.deflect_brand
        assert settings.public_base_url == real.settings.public_base_url
        assert box.clock.time() == real.clock.time()


def test_the_sandbox_plays_the_live_versions_under_their_own_numbers(app: Any) -> None:
    content = app.extensions["deflect"].content
    flow = (ROOT / "ivr_flows" / "ru_bank_support.yaml").read_text(encoding="utf-8")
    content.save_draft("flow", {"ru_bank_support.yaml": flow.replace("банка", "Банка")}, actor="anna")
    content.publish("flow", "ru-bank-support", actor="anna", comment="capitals")
    content.save_draft("flow", {"ru_bank_support.yaml": flow.replace("банка", "Пример")}, actor="anna")

    with sandboxes(app).open(at=0, drafts=False) as box:
        store = box.services.content.store
        assert store.live_pointers()[("flow", "ru-bank-support")] == 2
        assert store.drafts() == []
        assert box.services.registry.flows().get("ru-bank-support").version == 2
    with sandboxes(app).open(at=0, drafts=True) as box:
        assert [(d.kind, d.key) for d in box.services.content.store.drafts()] == [("flow", "ru-bank-support")]
        assert box.services.voice.play_drafts


def test_a_sandbox_is_gone_when_its_block_ends(app: Any) -> None:
    with sandboxes(app).open(at=0, drafts=False) as box:
        workdir = box.services.settings.deflect_data_dir
        url = box.services.settings.redis_url
        assert workdir.exists()
        assert redis.Redis.from_url(url).ping()
    assert not workdir.exists()
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        client.ping()
        answered = True
    except redis.ConnectionError:
        answered = False
    finally:
        client.close()
    assert not answered


def test_inside_a_sandbox_only_errors_are_logged_and_they_say_so() -> None:
    info = logging.makeLogRecord({"msg": "content in service", "levelno": logging.INFO})
    error = logging.makeLogRecord({"msg": "failed", "levelno": logging.ERROR})
    token = sandbox_var.set(True)
    try:
        assert not ContextFilter().filter(info)
        assert ContextFilter().filter(error) and error.sandbox is True
    finally:
        sandbox_var.reset(token)
    assert ContextFilter().filter(logging.makeLogRecord({"msg": "outside", "levelno": logging.INFO}))
