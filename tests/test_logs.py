"""Logs: structured, with request id and CallSid, and never a full phone number."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway.logs import ContextFilter, call_sid_var, mask_number, mask_numbers, redact, request_id_var


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+79161234567", "+7916*****67"),
        ("+77011234567", "+7701*****67"),
        ("+442071838750", "+4420******50"),
    ],
)
def test_numbers_are_masked(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_masking_finds_numbers_in_text_but_leaves_sids_and_dates() -> None:
    text = "SMS to whatsapp:+79161234567 for CA0123456789abcdef0123456789abcdef at 2026-11-23 10:59"
    assert mask_numbers(text) == (
        "SMS to whatsapp:+7916*****67 for CA0123456789abcdef0123456789abcdef at 2026-11-23 10:59"
    )


def test_json_log_line_carries_context_and_masks_extras(capsys: Any) -> None:
    from gateway.logs import configure_logging

    configure_logging("json", "info", production=True)
    token_r, token_c = request_id_var.set("req-1"), call_sid_var.set("CA" + "f" * 32)
    try:
        logging.getLogger("gateway.test").info(
            "offer accepted by %s", "+79161234567", extra={"caller": "+77011234567"}
        )
    finally:
        request_id_var.reset(token_r)
        call_sid_var.reset(token_c)
        configure_logging("text", "info", production=False)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "offer accepted by +7916*****67"
    assert line["caller"] == "+7701*****67"
    assert line["request_id"] == "req-1"
    assert line["call_sid"] == "CA" + "f" * 32
    assert line["level"] == "INFO"


def test_filter_masks_preformatted_arguments() -> None:
    record = logging.makeLogRecord({"msg": "from %s", "args": ("+79161234567",)})
    ContextFilter().filter(record)
    assert record.getMessage() == "from +7916*****67"


def _deflect_handler() -> logging.Handler:
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "deflect"]
    return handler


@pytest.fixture
def json_log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines of the real handler `configure_logging` installs in production (its stream only
    is swapped for a buffer the test reads)."""
    from gateway.logs import configure_logging

    configure_logging("json", "info", production=True)
    stream = io.StringIO()
    _deflect_handler().setStream(stream)  # type: ignore[attr-defined]
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    configure_logging("text", "info", production=False)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "GET /Messages.json?To=%2B79161234567&PageSize=50",
            "GET /Messages.json?To=%2B7916*****67&PageSize=50",
        ),
        ("From=whatsapp%3A%2B79161234567", "From=whatsapp%3A%2B7916*****67"),
        ("Body=call+me+79161234567", "Body=call+me+7916*****67"),
        ("{'To': '+79161234567'}", "{'To': '+7916*****67'}"),
    ],
)
def test_url_encoded_numbers_are_masked_too(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ('"GET /l/Qm5mYVdkT2pKd1hZb3FLc0E HTTP/1.1" 302', '"GET /l/[token] HTTP/1.1" 302'),
        ("/l/Qm5mYVdkT2pKd1hZb3FLc0E/telegram", "/l/[token]/telegram"),
        (
            "https://voice.example.test/card/eyJzIjo3fQ.Z0Nb8A.Qm5mYVdkT2pKd1hZb3FLc0E.json",
            "https://voice.example.test/card/[token]",
        ),
        ("next=%2Fcard%2FeyJzIjo3fQ.Z0Nb8A.Qm5m", "next=%2Fcard%2F[token]"),
        ("/twilio/voice/step/greeting", "/twilio/voice/step/greeting"),
        (
            "https://t.me/ExampleBankBot?start=Qm5mYVdkT2pKd1hZb3FLc0E",
            "https://t.me/ExampleBankBot?start=[token]",
        ),
        (
            "viber://pa?chatURI=examplebank&context=Qm5mYVdkT2pKd1hZb3FLc0E&text=Hi",
            "viber://pa?chatURI=examplebank&context=[token]&text=Hi",
        ),
        (
            'File "gateway/templates/card/card.html", line 3',
            'File "gateway/templates/card/card.html", line 3',
        ),
    ],
)
def test_bearer_links_lose_their_token(text: str, redacted: str) -> None:
    assert redact(text) == redacted


def test_values_postgresql_quotes_in_its_errors_are_hidden() -> None:
    message = (
        '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "opt_outs_pkey"\n'
        "DETAIL:  Key (number)=(+79161234567) already exists.\n"
        "[SQL parameters hidden due to hide_parameters=True]\n"
        '(psycopg.errors.NotNullViolation) null value in column "body" violates not-null constraint\n'
        "DETAIL:  Failing row contains (7, whatsapp:+79161234567, Мой пароль hunter2, null).\n"
        '(psycopg.errors.InvalidTextRepresentation) invalid input syntax for type integer: "hunter2"'
    )
    redacted = redact(message)
    assert "hunter2" not in redacted and "9161234567" not in redacted
    assert 'duplicate key value violates unique constraint "opt_outs_pkey"' in redacted
    assert "DETAIL:  [hidden]" in redacted


def _fail(detail: str) -> None:
    raise ValueError(f"no route for {detail}")


def test_exception_and_stack_text_are_redacted_in_json_lines(json_log: Any) -> None:
    try:
        _fail("whatsapp:+79161234567 at https://voice.example.test/l/Qm5mYVdkT2pKd1hZb3FLc0E")
    except ValueError:
        logging.getLogger("gateway.test").exception("hand-off failed", stack_info=True)
    [line] = json_log()
    assert "whatsapp:+7916*****67" in line["exc_info"] and "/l/[token]" in line["exc_info"]
    assert "9161234567" not in json.dumps(line) and "Qm5mYVdk" not in json.dumps(line)
    assert "test_exception_and_stack_text" in line["stack_info"]


def test_exception_text_is_redacted_in_text_lines(capsys: Any) -> None:
    from gateway.logs import configure_logging

    configure_logging("text", "info", production=False)
    try:
        _fail("+79161234567")
    except ValueError:
        logging.getLogger("gateway.test").exception("failed")
    err = capsys.readouterr().err
    assert "ValueError: no route for +7916*****67" in err
    assert "9161234567" not in err


def test_exception_text_another_handler_formatted_first_is_redacted_too(json_log: Any) -> None:
    """logging.Formatter caches the exception text on the record: an earlier handler must not leak it."""
    earlier = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.handlers.insert(0, earlier)
    try:
        try:
            _fail("+79161234567")
        except ValueError:
            logging.getLogger("gateway.test").exception("failed")
    finally:
        root.removeHandler(earlier)
    [line] = json_log()
    assert "no route for +7916*****67" in line["exc_info"]


def test_twilio_client_request_lines_stay_out_of_the_production_log(json_log: Any) -> None:
    from twilio.http.http_client import TwilioHttpClient

    TwilioHttpClient().log_request(
        {
            "method": "GET",
            "url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "params": {"To": "+79161234567", "PageSize": 50},
            "headers": {"User-Agent": "twilio-python"},
        }
    )
    assert json_log() == []


def test_twilio_client_request_lines_are_masked_when_debugging(capsys: Any) -> None:
    from twilio.http.http_client import TwilioHttpClient

    from gateway.logs import configure_logging

    configure_logging("json", "debug", production=True)
    logging.getLogger("twilio.http_client").setLevel(logging.DEBUG)  # asked for, to see the requests
    try:
        TwilioHttpClient().log_request(
            {
                "method": "GET",
                "url": "https://api.twilio.com/x",
                "params": {"To": "+79161234567"},
                "headers": {},
            }
        )
    finally:
        configure_logging("text", "info", production=False)
    err = capsys.readouterr().err
    assert "To=%2B7916*****67" in err
    assert "9161234567" not in err


def test_gunicorn_access_line_keeps_the_path_but_not_the_token(tmp_path: Any) -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from gateway.logs import configure_logging

    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    access = Logger(config)
    configure_logging("json", "info", production=True)  # what a gunicorn worker does when it loads wsgi.py
    try:
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/l/Qm5mYVdkT2pKd1hZb3FLc0E",
            "PATH_INFO": "/l/Qm5mYVdkT2pKd1hZb3FLc0E",
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "203.0.113.7",
        }
        response = SimpleNamespace(status="302 FOUND", headers=[], sent=0)
        access.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    finally:
        configure_logging("text", "info", production=False)
        access.close_on_exec()
    line = (tmp_path / "access.log").read_text()
    assert '"GET /l/[token] HTTP/1.1" 302' in line
    assert "Qm5mYVdk" not in line
