"""Structured logging: JSON lines in production, readable lines in development.

Every record carries the request id and the CallSid of the request being served. Logs travel to places
consent does not, so whatever a record holds (message, extras, exception and stack text, from our code
or a library's) is redacted on its way out: phone numbers masked (`+7916*****67`, also URL-encoded),
the tokens of bearer links (`/l/<token>`, `/card/<token>`) and the values PostgreSQL quotes in its
error details removed. Message bodies cannot be recognised: our log calls never pass them.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
call_sid_var: ContextVar[str | None] = ContextVar("call_sid", default=None)
# Set while a test call is played in a sandbox (the console's test-call panel): its start-up notices
# and its calls are not the installation's news, so only its errors are logged, marked `sandbox`.
sandbox_var: ContextVar[bool] = ContextVar("sandbox", default=False)

# E.164 (also inside whatsapp:+7...), the same URL-encoded (%2B7..., in a query string or a form), or
# a bare run of 10 to 15 digits that may be a number as typed.
_NUMBER = re.compile(
    r"(?<![\w+])\+\d{7,15}(?!\d)"
    r"|%2[Bb]\d{7,15}(?!\d)"
    r"|(?<!\w)\d{10,15}(?!\d)"
)
# Whoever holds one of these links opens the customer's chat or the call's story: the path is kept (it
# says what was visited), the token is not. Also URL-encoded, as in a `next=` parameter. The card's own
# templates (templates/card/card.html, in a traceback) are not tokens.
_BEARER_LINK = re.compile(r"((?:/|%2[Ff])(?:l|card)(?:/|%2[Ff]))(?![\w-]+\.html\b)[A-Za-z0-9._~-]+")
# Telegram and Viber deep links carry the session's link token as their payload.
_MESSENGER_PAYLOAD = re.compile(r"([?&](?:start|context)=)[A-Za-z0-9_-]{16,64}")
HIDDEN_TOKEN = "[token]"
# PostgreSQL quotes the row or key it refused ("DETAIL:  Key (number)=(+7916...) already exists.",
# "Failing row contains (...)") and the text it could not convert, whatever SQLAlchemy hides.
_PG_DETAIL = re.compile(r"(DETAIL:[ \t]*)[^\n]+")
_PG_INPUT = re.compile(r"(invalid input (?:syntax|value) for [^:\n]+: )\"[^\n]*\"")
HIDDEN_VALUE = "[hidden]"


def mask_number(number: str) -> str:
    """`+79161234567` -> `+7916*****67`: enough to tell calls apart, not enough to dial."""
    prefix, rest = ("%2B", number[3:]) if number[:3].upper() == "%2B" else ("", number)
    digits = re.sub(r"\D", "", rest)
    if len(digits) < 7:
        return "*" * len(number)
    plus = prefix or ("+" if rest.lstrip().startswith("+") else "")
    return f"{plus}{digits[:4]}{'*' * (len(digits) - 6)}{digits[-2:]}"


def mask_numbers(text: str) -> str:
    return _NUMBER.sub(lambda m: mask_number(m.group(0)), text)


def redact(text: str) -> str:
    """`text` as a log may hold it: numbers masked, bearer tokens and database-quoted values removed."""
    text = _BEARER_LINK.sub(lambda m: m.group(1) + HIDDEN_TOKEN, text)
    text = _MESSENGER_PAYLOAD.sub(lambda m: m.group(1) + HIDDEN_TOKEN, text)
    text = _PG_DETAIL.sub(lambda m: m.group(1) + HIDDEN_VALUE, text)
    text = _PG_INPUT.sub(lambda m: f'{m.group(1)}"{HIDDEN_VALUE}"', text)
    return mask_numbers(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_TRACEBACKS = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Redacts the message, every extra field, and the exception and stack text of a record.

    The exception is formatted here, redacted, and kept as `exc_text`, which formatters print instead
    of formatting `exc_info` again (ours always do; see `_JsonFormatter`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(value))
        if record.exc_info:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class ContextFilter(RedactingFilter):
    """Adds request id and CallSid, then redacts the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if sandbox_var.get():
            if record.levelno < logging.ERROR:
                return False
            record.sandbox = True
        record.request_id = request_id_var.get()
        record.call_sid = call_sid_var.get()
        return super().filter(record)


class _JsonFormatter(JsonFormatter):
    """python-json-logger formats `exc_info` itself, and would print the exception unredacted."""

    def formatException(self, ei: Any) -> str:
        return redact(_one_text(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:
        return redact(_one_text(super().formatStack(stack_info)))


def _one_text(text: str | list[str]) -> str:
    return text if isinstance(text, str) else "\n".join(text)  # a list only with *_as_array, unused


class TextFormatter(logging.Formatter):
    """One readable line: time, level, logger, message, then the context and extras as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in _STANDARD_ATTRS and v is not None and k != "color_message"
        }
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        return f"{base} {tail}".rstrip()

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


# Libraries that log on their own. Twilio's client announces every request's URL (the number is in the
# query string of a message list) and headers at INFO; Alembic announces its plugins on every schema
# check (/readyz). Neither is news in a production log.
_QUIET = ("alembic", "twilio.http_client")
# gunicorn's loggers do not propagate to ours: an access line holds the request's path (`/l/<token>`).
_OWN_HANDLERS = ("gunicorn.access", "gunicorn.error")


def configure_logging(fmt: str, level: str, *, production: bool) -> None:
    """Install one handler on the root logger (idempotent: a second app in one process replaces it)."""
    use_json = fmt == "json" or (fmt == "auto" and production)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("deflect")
    handler.addFilter(ContextFilter())
    if use_json:
        handler.setFormatter(
            _JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "deflect":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in _OWN_HANDLERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
