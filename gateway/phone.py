"""Phone numbers at the edge: parse once with `phonenumbers`, keep E.164 inside.

A caller ID may be withheld: Twilio then sends one of a few fixed digit strings (or the words
themselves). Those, and anything that is not a valid number, are "no usable number" (None).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

# What Twilio puts in From when the caller ID is withheld (ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN,
# UNAVAILABLE), and the words some carriers send instead.
WITHHELD_CALLER_IDS = frozenset(
    {
        "+266696687",
        "+7378742833",
        "+2562533",
        "+8656696",
        "+86282452253",
        "266696687",
        "7378742833",
        "2562533",
        "8656696",
        "86282452253",
        "anonymous",
        "restricted",
        "blocked",
        "unknown",
        "unavailable",
        "private",
        "",
    }
)

_TYPE_NAMES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    region: str | None
    number_type: str


def parse_number(raw: str | None, default_region: str | None = None) -> PhoneNumber | None:
    """A valid number in E.164 with its region and type, or None when there is no usable number."""
    if raw is None:
        return None
    text = raw.strip()
    for prefix in ("whatsapp:", "tel:", "sms:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    if text.lower() in WITHHELD_CALLER_IDS or ":" in text or "@" in text:  # sip:, client:
        return None
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number),
        number_type=_TYPE_NAMES.get(phonenumbers.number_type(number), "unknown"),
    )
