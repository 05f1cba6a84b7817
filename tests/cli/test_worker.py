"""`deflect worker`: jobs run in the worker's own process (RQ's SimpleWorker, no work horse forked per
job), and accepted offers are drained through it, each SMS once."""

from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.clock import ManualClock
from gateway.store.models import DevInboxMessage, SmsOutbox
from tests.deflection.conftest import reach_consent
from tests.support.calls import Call


def test_jobs_run_in_the_worker_process_itself(cli_env: None, app: Any) -> None:
    job = app.extensions["deflect"].queue.enqueue(os.getpid)
    result = CliRunner().invoke(main, ["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert job.return_value() == os.getpid()  # not a forked work horse's


def test_the_worker_drains_accepted_offers_each_once(
    cli_env: None, app: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFLECT_SENDER_MPS", "100")  # the worker sends on the machine's clock
    for n in range(3):
        call = Call(app.test_client(), caller=f"+7916{n:03d}4567")
        call.press(reach_consent(call, clock), "1")
    assert app.extensions["deflect"].queue.count == 1  # one send job takes all three
    result = CliRunner().invoke(main, ["worker", "--burst"])
    assert result.exit_code == 0, result.output
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(SmsOutbox)))
        sent = list(session.scalars(select(DevInboxMessage)))
        assert {row.status for row in rows} == {"sent"}
        assert sorted(m.sid for m in sent) == sorted(row.provider_sid for row in rows)
        assert sorted(m.to for m in sent) == [f"+7916{n:03d}4567" for n in range(3)]


def test_the_worker_leaves_no_services_bound_when_it_ends(cli_env: None) -> None:
    # A burst worker run in a test (or any process that goes on) must not leave its closed services
    # for jobs run later: those must say no services are bound, not use closed connections.
    from gateway import jobs

    assert CliRunner().invoke(main, ["worker", "--burst"], catch_exceptions=False).exit_code == 0
    with pytest.raises(RuntimeError, match="no services bound"):
        jobs.send_sms(1)
