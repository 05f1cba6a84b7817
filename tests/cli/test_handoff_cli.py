"""`deflect handoff dead-letters --json`: the hand-offs that failed for good, for a script."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from gateway.cli import main
from gateway.store.models import Handoff, InboundMessage


def test_dead_letters_as_json(app: Any, cli_env: None, clock: Any) -> None:
    assert json.loads(CliRunner().invoke(main, ["handoff", "dead-letters", "--json"]).stdout) == []
    with app.extensions["deflect"].database.session() as session:
        message = InboundMessage(
            message_id="SM" + "7" * 32,
            channel="whatsapp",
            sender="whatsapp:+79161234567",
            body="Здравствуйте",
            match="unmatched",
            received_at=clock.now(),
        )
        session.add(message)
        session.flush()
        session.add(
            Handoff(
                inbound_id=message.id,
                adapter="webhook",
                status="dead",
                attempts=6,
                last_error="HTTP 503 from the desk\nretry-after: 60",
                payload={},
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    result = CliRunner().invoke(main, ["handoff", "dead-letters", "--json"])
    assert result.exit_code == 0, result.output
    [dead] = json.loads(result.stdout)
    assert dead["adapter"] == "webhook" and dead["attempts"] == 6
    assert dead["last_error"] == "HTTP 503 from the desk"
    assert dead["updated_at"] == clock.now().isoformat()


def test_a_replay_from_the_cli_is_queued_and_audited(app: Any, cli_env: None, clock: Any) -> None:
    with app.extensions["deflect"].database.session() as session:
        message = InboundMessage(
            message_id="SM" + "8" * 32,
            channel="whatsapp",
            sender="whatsapp:+79161234567",
            body="Здравствуйте",
            match="unmatched",
            received_at=clock.now(),
        )
        session.add(message)
        session.flush()
        dead = Handoff(
            inbound_id=message.id,
            adapter="card",
            status="dead",
            attempts=6,
            payload={},
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(dead)
        session.flush()
        handoff_id = dead.id

    refused = CliRunner().invoke(main, ["handoff", "dead-letters", "--replay", str(handoff_id + 1)])
    replayed = CliRunner().invoke(
        main, ["handoff", "dead-letters", "--replay", str(handoff_id), "--by", "ops"]
    )

    assert refused.exit_code == 1 and "is not a dead letter" in refused.output
    assert replayed.exit_code == 0 and f"hand-off {handoff_id} queued again" in replayed.output
    with app.extensions["deflect"].database.session() as session:
        assert session.get(Handoff, handoff_id).status == "pending"
    [entry] = [e for e in app.extensions["deflect"].content.store.audit() if e.action == "handoff.replayed"]
    assert (entry.actor, entry.subject, entry.before, entry.after) == (
        "ops",
        f"handoff:{handoff_id}",
        "dead",
        "pending",
    )
