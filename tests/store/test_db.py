"""The database engine: what its errors say about the data they were given."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from gateway.logs import configure_logging
from gateway.store.db import Database
from gateway.store.models import InboundMessage, OptOut

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


def test_a_logged_database_error_holds_no_number_even_where_the_database_quotes_it(
    database_url: str,
) -> None:
    """PostgreSQL repeats the refused key in its error ("DETAIL:  Key (number)=(+7916...) already
    exists."), whatever SQLAlchemy hides; SQLite names the column only."""
    database = Database(database_url)
    configure_logging("json", "info", production=True)
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "deflect"]
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        with database.session() as session:
            session.add(OptOut(number="+79161234567", at=AT, channel="sms"))
        try:
            with database.session() as session:
                session.add(OptOut(number="+79161234567", at=AT, channel="whatsapp"))
        except IntegrityError:
            logging.getLogger("gateway.test").exception("opt-out not recorded")
    finally:
        configure_logging("text", "info", production=False)
        with database.session() as session:
            session.query(OptOut).delete()
        database.dispose()
    output = stream.getvalue()
    assert "opt-out not recorded" in output and "IntegrityError" in output
    assert "9161234567" not in output
