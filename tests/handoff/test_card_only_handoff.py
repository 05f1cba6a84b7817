"""Without a desk integration the context card link is the hand-off: it is a bearer link, so the log says
which hand-off is ready and `deflect handoff card <id>` gives the link to whoever may open it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.store.models import Handoff
from tests.deflection.conftest import run_jobs
from tests.support.calls import PUBLIC_BASE
from tests.support.messages import post_inbound
from tests.support.sessions import open_chat_session


def test_card_link_stays_out_of_the_log_and_the_cli_prints_it(
    app: Any, cli_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    chat = open_chat_session(app)
    client = app.test_client()
    post_inbound(client, f"Здравствуйте, номер {chat.reference}")
    with caplog.at_level(logging.INFO, logger="gateway.handoff.dispatch"):
        run_jobs(app)
    with app.extensions["deflect"].database.session() as session:
        [handoff] = session.scalars(select(Handoff)).all()
        handoff_id, link = handoff.id, handoff.payload["context_card_url"]
    assert handoff.adapter == "card"

    [ready] = [r.getMessage() for r in caplog.records if "ready for an agent" in r.getMessage()]
    assert f"hand-off {handoff_id}" in ready
    assert "/card/" not in ready and link.rsplit("/", 1)[1] not in ready

    printed = CliRunner().invoke(main, ["handoff", "card", str(handoff_id)])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.strip() == link
    assert client.get(link.removeprefix(PUBLIC_BASE)).status_code == 200

    missing = CliRunner().invoke(main, ["handoff", "card", str(handoff_id + 1000)])
    assert missing.exit_code != 0
    assert "has no context card" in missing.output
