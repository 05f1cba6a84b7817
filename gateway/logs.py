"""Structured logging: JSON lines in production, readable lines in development.

Every record carries the request id and the CallSid of the request being served, and phone numbers
are masked wherever they appear (`+7916*****67`): logs travel to places consent does not.
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

# E.164 (also inside whatsapp:+7...), or a bare run of 10 to 15 digits that may be a number as typed.
_NUMBER = re.compile(r"(?<![\w+])\+\d{7,15}(?!\d)|(?<![\w+])\d{10,15}(?!\d)")


def mask_number(number: str) -> str:
    """`+79161234567` -> `+7916*****67`: enough to tell calls apart, not enough to dial."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 7:
        return "*" * len(number)
    plus = "+" if number.lstrip().startswith("+") else ""
    return f"{plus}{digits[:4]}{'*' * (len(digits) - 6)}{digits[-2:]}"


def mask_numbers(text: str) -> str:
    return _NUMBER.sub(lambda m: mask_number(m.group(0)), text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v) for v in value)
    return value


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Adds request id and CallSid, and masks phone numbers in the message and every extra field."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.call_sid = call_sid_var.get()
        message = record.getMessage()
        record.msg, record.args = mask_numbers(message), None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _mask_value(value))
        return True


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


def configure_logging(fmt: str, level: str, *, production: bool) -> None:
    """Install one handler on the root logger (idempotent: a second app in one process replaces it)."""
    use_json = fmt == "json" or (fmt == "auto" and production)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("deflect")
    handler.addFilter(ContextFilter())
    if use_json:
        handler.setFormatter(
            JsonFormatter(
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
    # Alembic announces its plugins on every schema check (/readyz); that is not news.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
