"""Without a Twilio account, SMS are kept in the dev inbox and can be listed."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from gateway.cli import main
from gateway.messaging.providers import DevInboxProvider


def test_dev_inbox_keeps_one_message_per_idempotency_key(app: Any) -> None:
    provider = app.extensions["deflect"].provider
    assert isinstance(provider, DevInboxProvider)
    first = provider.send(to="+79161234567", body="Ссылка", status_callback=None, idempotency_key="k1")
    again = provider.send(to="+79161234567", body="Ссылка", status_callback=None, idempotency_key="k1")
    other = provider.send(to="+79161234567", body="Ссылка", status_callback=None, idempotency_key="k2")
    assert first.sid == again.sid != other.sid


def test_inbox_list_shows_the_messages(app: Any, cli_env: None) -> None:
    app.extensions["deflect"].provider.send(
        to="+79161234567", body="Продолжим в WhatsApp", status_callback=None, idempotency_key="k3"
    )
    result = CliRunner().invoke(main, ["inbox", "list"])
    assert result.exit_code == 0, result.output
    assert "Продолжим в WhatsApp" in result.output
    assert "to +79161234567" in result.output


def test_bad_settings_stop_the_cli_with_the_variable_named(monkeypatch: Any) -> None:
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    result = CliRunner().invoke(main, ["inbox", "list"])
    assert result.exit_code != 0
    assert "configuration error: REDIS_URL must be a URL" in result.output


def test_inbox_list_json_gives_each_message_with_its_links(app: Any, cli_env: None) -> None:
    provider = app.extensions["deflect"].provider
    provider.send(to="+79161234567", body="Первое", status_callback=None, idempotency_key="j1")
    provider.send(
        to="+79031112233",
        body="Продолжим в WhatsApp: https://voice.example.test/l/abc123",
        status_callback=None,
        idempotency_key="j2",
    )
    result = CliRunner().invoke(main, ["inbox", "list", "--json"])
    assert result.exit_code == 0, result.output
    newest, oldest = json.loads(result.stdout)
    assert newest["to"] == "+79031112233"
    assert newest["links"] == ["https://voice.example.test/l/abc123"]
    assert oldest["body"] == "Первое" and oldest["links"] == []
    assert newest["sid"].startswith("SM") and newest["created_at"].endswith("+00:00")
    empty = CliRunner().invoke(main, ["inbox", "list", "--json", "--limit", "0"])
    assert json.loads(empty.stdout) == []


def test_the_old_outbox_list_command_still_lists_the_dev_inbox(app: Any, cli_env: None) -> None:
    """`deflect outbox list` was the command's name before "outbox" meant the send-once table only."""
    app.extensions["deflect"].provider.send(
        to="+79161234567", body="Продолжим в WhatsApp", status_callback=None, idempotency_key="k9"
    )
    old, new = CliRunner().invoke(main, ["outbox", "list"]), CliRunner().invoke(main, ["inbox", "list"])
    assert old.exit_code == new.exit_code == 0 and old.output == new.output
    assert "Продолжим в WhatsApp" in old.output
