"""The database engine: what its errors say about the data they were given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from gateway.store.db import Database
from gateway.store.models import InboundMessage

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _message(body: str) -> InboundMessage:
    return InboundMessage(
        message_id="SM" + "f" * 32,
        channel="whatsapp",
        sender="whatsapp:+79161234567",
        profile_name="Анна",
        body=body,
        media={},
        match="unmatched",
        received_at=AT,
    )


def test_a_database_error_does_not_quote_the_number_name_or_body_it_was_given(database_url: str) -> None:
    database = Database(database_url)
    try:
        with database.session() as session:
            session.add(_message("первое сообщение"))
        with pytest.raises(IntegrityError) as caught, database.session() as session:
            session.add(_message("Мой пароль hunter2"))  # the same MessageSid again
        text = str(caught.value)
        assert "hunter2" not in text and "9161234567" not in text and "Анна" not in text
        assert "INSERT INTO inbound_messages" in text  # the statement still says what failed
    finally:
        with database.session() as session:
            session.query(InboundMessage).delete()
        database.dispose()

