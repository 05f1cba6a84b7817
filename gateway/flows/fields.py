"""Scalar field types of flow files (step ids, keypad digits, prompts, E.164 numbers, regions,
URLs, hours) with validators whose messages name the fix."""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import phonenumbers
from pydantic import AfterValidator, BeforeValidator, Field

from gateway.flows import schedule

STEP_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"
DIGIT_PATTERN = r"^[0-9*#]$"


def _check_step_id(value: str) -> str:
    if not re.match(STEP_ID_PATTERN, value):
        raise ValueError(f"'{value}' is not a step id (letters, digits, '_' and '-', up to 64)")
    return value


def _digit_from_yaml(value: Any) -> Any:
    # YAML reads `1:` as the integer 1; menus and offers speak of keypad digits.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _check_digit(value: str) -> str:
    if not re.match(DIGIT_PATTERN, value):
        raise ValueError(f"'{value}' is not a keypad digit (0-9, '*' or '#')")
    return value


def _check_prompt(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be empty")
    return value.strip()


def _phone_from_yaml(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"quote phone numbers: YAML read {value} as an integer and dropped the '+'")
    return value


def _check_e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != value
    ):
        raise ValueError(f"'{value}' is not a valid E.164 number such as +74951234567")
    return value


def _region_from_yaml(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("quote region codes: YAML reads NO, YES, ON and OFF as booleans")
    return value


def _check_region(value: str) -> str:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"'{value}' is not an ISO 3166 region code such as RU or KZ")
    return value.upper()


def _check_http_url(value: str) -> str:
    parts = urlparse(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


def _check_sip(value: str) -> str:
    if not re.match(r"^sips?:[^@\s]+@[^@\s]+$", value):
        raise ValueError(f"'{value}' is not a SIP URI such as sip:agent@example.sip.twilio.com")
    return value


def _holiday_from_yaml(value: Any) -> Any:
    # YAML turns an unquoted 2027-01-01 into a date; keep one spelling (ISO text) inside.
    return value.isoformat() if hasattr(value, "isoformat") else value


def _check_holiday(value: str) -> str:
    schedule.parse_holiday(value)
    return value


StepId = Annotated[str, AfterValidator(_check_step_id), Field(json_schema_extra={"pattern": STEP_ID_PATTERN})]
Digit = Annotated[
    str,
    BeforeValidator(_digit_from_yaml),
    AfterValidator(_check_digit),
    Field(json_schema_extra={"pattern": DIGIT_PATTERN}),
]
Prompt = Annotated[str, AfterValidator(_check_prompt), Field(json_schema_extra={"minLength": 1})]
E164 = Annotated[
    str,
    BeforeValidator(_phone_from_yaml),
    AfterValidator(_check_e164),
    Field(json_schema_extra={"pattern": r"^\+[1-9]\d{1,14}$"}),
]
Region = Annotated[
    str,
    BeforeValidator(_region_from_yaml),
    AfterValidator(_check_region),
    Field(json_schema_extra={"pattern": "^[A-Za-z]{2}$"}),
]
HttpUrl = Annotated[
    str, AfterValidator(_check_http_url), Field(json_schema_extra={"format": "uri", "pattern": "^https?://"})
]
QueueName = Annotated[str, Field(min_length=1, max_length=64)]
Holiday = Annotated[
    str,
    BeforeValidator(_holiday_from_yaml),
    AfterValidator(_check_holiday),
    Field(json_schema_extra={"pattern": r"^\d{4}-\d{2}-\d{2}(\.\.\d{4}-\d{2}-\d{2})?$"}),
]
NumberType = Literal[
    "mobile",
    "fixed_line",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
]
Channel = Literal["whatsapp", "telegram", "viber"]
SipUri = Annotated[str, AfterValidator(_check_sip), Field(json_schema_extra={"pattern": "^sips?:"})]


def check_placeholders(text: str, allowed: set[str]) -> None:
    """Raise ValueError when `text` uses a {placeholder} outside `allowed` or has stray braces."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        raise ValueError(f"unbalanced braces in '{text}'") from None
    unknown = names - allowed
    if unknown:
        wanted = ", ".join("{" + name + "}" for name in sorted(allowed)) or "none"
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} (allowed: {wanted})")


def check_days(value: str) -> str:
    schedule.parse_days(value)
    return value


def check_intervals(value: str) -> str:
    schedule.parse_intervals(value)
    return value


def check_timezone(value: str) -> str:
    schedule.check_timezone(value)
    return value
