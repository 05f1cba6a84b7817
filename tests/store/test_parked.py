"""Parked webhooks: one that cannot be replayed is kept aside for whoever investigates, and the log
names it without the sender's number or the message body its form carries."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from gateway.jobs import replay_parked_webhooks, running_with
from gateway.store.parked import DROPPED_KEY, PARKED_KEY, park


def test_a_parked_webhook_that_cannot_be_replayed_is_kept_aside_and_logged_without_its_content(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    redis = app.extensions["deflect"].redis
    # Written by an earlier release in a shape this one cannot read (no "form" around the fields).
    form = {"MessageSid": "SM" + "c" * 32, "From": "whatsapp:+79161234567", "Body": "Мой пароль hunter2"}
    park(redis, "inbound", form, 1_764_000_000.0)
    park(redis, "fax", {"From": "+79161234567"}, 1_764_000_001.0)
    with (
        caplog.at_level(logging.INFO, logger="gateway.store.parked"),
        running_with(app.extensions["deflect"]),
    ):
        assert replay_parked_webhooks() == 2
    assert redis.llen(PARKED_KEY) == 0
    kept = [json.loads(raw) for raw in redis.lrange(DROPPED_KEY, 0, -1)]
    assert [entry["params"] for entry in kept] == [form, {"From": "+79161234567"}]
    assert 0 < redis.ttl(DROPPED_KEY) <= 7 * 86400

    logged = [(r.getMessage(), r.exc_info) for r in caplog.records if r.name == "gateway.store.parked"]
    assert len(logged) == 2
    assert "SM" + "c" * 32 in logged[0][0] and "KeyError" in logged[0][0]
    for message, exc_info in logged:
        assert "9161234567" not in message and "hunter2" not in message
        assert exc_info is None  # an exception's text may quote the form
