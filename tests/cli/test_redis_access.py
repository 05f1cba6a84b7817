"""Which Redis a `deflect` command uses: the running gateway's (never stopping it), none at all for the
commands that only read or write the database, and a clear "start the gateway" when it needs one and
no gateway runs. `simulate` alone starts a private Redis then, and stops it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.store.redis import EmbeddedRedis, connect, forget, record
from tests.support.readme import readme_commands


@pytest.fixture
def no_gateway(cli_env: None, base_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A second terminal of a checkout whose gateway is not running: no REDIS_URL, no PUBLIC_BASE_URL."""
    monkeypatch.delenv("REDIS_URL")
    monkeypatch.delenv("PUBLIC_BASE_URL")
    return Path(base_config["DEFLECT_DATA_DIR"])


@pytest.fixture
def gateways_redis(no_gateway: Path) -> Iterator[EmbeddedRedis]:
    """The embedded Redis of a gateway running with this data directory, recorded where `serve` does."""
    server = EmbeddedRedis(no_gateway)
    record(no_gateway, server)
    yield server
    forget(no_gateway, server)
    server.shutdown()


def test_read_only_commands_never_connect_to_the_gateways_redis(
    gateways_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shipped Russian flow offers Telegram too: `flows validate` passes with its bot configured.
    monkeypatch.setenv("DEFLECT_TELEGRAM_BOT", "ExampleBankBot")
    watcher = connect(gateways_redis.url)
    before = watcher.info("stats")["total_connections_received"]
    for args in (
        ["inbox", "list"],
        ["consent", "verify"],
        ["consent", "export", "--number", "+79161234567"],
        ["handoff", "dead-letters"],
        ["flows", "validate"],
        ["flows", "schema"],
        ["templates", "check"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    assert watcher.info("stats")["total_connections_received"] == before
    assert watcher.dbsize() == 0
    watcher.close()


def test_commands_use_the_gateways_redis_and_leave_it_running(gateways_redis: EmbeddedRedis) -> None:
    watcher = connect(gateways_redis.url)
    assert CliRunner().invoke(main, ["messaging", "pause", "-m", "load test"]).exit_code == 0
    assert watcher.exists("deflect:messaging:paused")
    assert CliRunner().invoke(main, ["messaging", "resume"]).exit_code == 0
    assert watcher.ping()  # still up: the command did not own it, so it did not stop it
    watcher.close()


@pytest.mark.parametrize(
    "args",
    [
        ["messaging", "pause", "-m", "load test"],
        ["messaging", "status"],
        ["worker", "--burst"],
        ["scheduler"],
    ],
)
def test_commands_that_need_the_gateway_say_so_when_it_is_not_running(
    no_gateway: Path, args: list[str]
) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 69, result.output
    assert f"no gateway is running with DEFLECT_DATA_DIR={no_gateway}" in result.output
    assert "`deflect serve`" in result.output and "REDIS_URL" in result.output
    assert "offers paused" not in result.output


def _private_redis_servers() -> list[str]:
    found = subprocess.run(["pgrep", "-f", "deflect-simulate-"], capture_output=True, text=True)
    return found.stdout.split()


def test_the_readme_example_without_a_gateway_runs_on_a_private_redis_and_stops_it(no_gateway: Path) -> None:
    simulate, outbox = readme_commands()
    result = CliRunner().invoke(main, simulate)
    assert result.exit_code == 0, result.output
    assert "a private Redis for this call, stopped when it ends" in result.output
    assert "↪ leaves the queue" in result.output
    assert _private_redis_servers() == []
    listed = CliRunner().invoke(main, [*outbox, "--json"])
    assert listed.exit_code == 0, listed.output
    [message] = json.loads(listed.stdout)
    # Where `make run` would open it (no gateway runs, no PUBLIC_BASE_URL): not a port-less localhost.
    assert [link.rsplit("/", 1)[0] for link in message["links"]] == ["http://127.0.0.1:5000/l"]
