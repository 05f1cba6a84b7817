"""/metrics under gunicorn with two workers: whichever worker answers the scrape reports what both
counted, a worker that exits keeps its counts, and the master's metrics directory is fresh at each
start and gone when it stops."""

from __future__ import annotations

import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import gunicorn_config
from tests.support.gunicorn import Server, environment, gunicorn

TOKEN = "metrics-token-" + "g" * 32
ROUTE = "/twilio/voice/incoming"
BATCH = 16  # simultaneous connections, so that both workers take some
PATIENCE = 30.0  # seconds: generous, this is no timing test


def _forged_calls(server: Server, count: int) -> None:
    """Unsigned webhooks: refused (403) from their headers, and timed like any other."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with ThreadPoolExecutor(BATCH) as pool:
        statuses = list(pool.map(lambda _: server.request("POST", ROUTE, headers, b"x=1")[0], range(count)))
    assert set(statuses) == {403}


def _counted(server: Server) -> float:
    status, body = server.request("GET", "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "deflect_webhook_duration_seconds_count" and sample.labels == {"route": ROUTE}:
                return sample.value
    return 0.0


def _worker_pids(directory: Path) -> set[int]:
    """The workers that have counted something: one histogram file each."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("histogram_*.db")}


def test_a_scrape_reports_both_workers_and_a_dead_workers_counts(
    make_app: Any, base_config: dict[str, Any], tmp_path: Path
) -> None:
    make_app()  # what the server writes is wiped with this app's data after the test
    env = environment(base_config, DEFLECT_METRICS_TOKEN=TOKEN, TMPDIR=str(tmp_path))
    with gunicorn(env, workers=2, log=tmp_path / "gunicorn.log") as server:
        [directory] = tmp_path.glob("deflect-metrics-*")  # the master's own, made at its start
        sent = 0
        deadline = time.monotonic() + PATIENCE
        while len(_worker_pids(directory)) < 2:  # until the second worker has booted and answered
            assert time.monotonic() < deadline, "one worker took every connection"
            _forged_calls(server, BATCH)
            sent += BATCH
            time.sleep(0.1)  # the CPU to the worker still booting
        for _ in range(6):  # each scrape is answered by either worker: all report every call
            assert _counted(server) == sent

        gone = min(_worker_pids(directory))
        os.kill(gone, signal.SIGTERM)  # gunicorn starts another in its place
        while Path(f"/proc/{gone}").exists():
            assert time.monotonic() < deadline + PATIENCE, "the worker did not exit"
            time.sleep(0.05)
        _forged_calls(server, 1)
        assert _counted(server) == sent + 1  # the counts of the worker gone are still there
    assert not directory.exists()  # removed when the master exits


def test_a_given_metrics_directory_is_emptied_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_4242.db").write_bytes(b"an earlier run's counts")
    (given / "README").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    gunicorn_config.on_starting(SimpleNamespace(log=logging.getLogger("gunicorn.error")))
    assert sorted(p.name for p in given.iterdir()) == ["README"]
    gunicorn_config.on_exit(SimpleNamespace())
    assert given.exists()  # not ours to remove


def test_without_a_given_directory_the_master_makes_its_own_and_removes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # restored when the test ends
    server = SimpleNamespace(log=logging.getLogger("gunicorn.error"))
    gunicorn_config.on_starting(server)
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir() and made.name.startswith("deflect-metrics-")
    (made / "counter_4242.db").write_bytes(b"a worker's counts")
    gunicorn_config.child_exit(server, SimpleNamespace(pid=4242))
    assert (made / "counter_4242.db").exists()  # a counter outlives its process
    gunicorn_config.on_exit(server)
    assert not made.exists()
