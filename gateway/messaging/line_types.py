"""What kind of line a number is, asked of Twilio Lookup v2 (Line Type Intelligence) through the real
`twilio` client. Twilio bills each lookup (about US$0.008 at list price when this was written); what
to ask and what to do with the answer is deflection's decision (`deflection/line_types.py`).
"""

from __future__ import annotations

from typing import Any, Protocol

# Twilio's line types (https://www.twilio.com/docs/lookup/v2-api/line-type-intelligence), in the words
# gateway/phone.py gives phonenumbers' types, so the same DEFLECT_NUMBER_TYPES policy applies.
LINE_TYPES = {
    "mobile": "mobile",
    "landline": "fixed_line",
    "fixedVoip": "voip",
    "nonFixedVoip": "voip",
    "personal": "personal_number",
    "tollFree": "toll_free",
    "premium": "premium_rate",
    "sharedCost": "shared_cost",
    "uan": "uan",
    "voicemail": "voicemail",
    "pager": "pager",
    "unknown": "unknown",
}


class LookupFailed(Exception):
    """No answer (Twilio unreachable, an error, no line type for this number). The message never
    holds the number: Twilio's own error text names the URL, and the URL holds the number."""


class LineTypeSource(Protocol):
    def line_type(self, number: str) -> str:
        """The line type of an E.164 number, in phone.py's words; raises LookupFailed."""
        ...


class TwilioLineTypes:
    """`GET https://lookups.twilio.com/v2/PhoneNumbers/{number}?Fields=line_type_intelligence`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def line_type(self, number: str) -> str:
        from requests import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            answer = self.client.lookups.v2.phone_numbers(number).fetch(fields="line_type_intelligence")
        except TwilioRestException as exc:
            raise LookupFailed(f"Twilio answered HTTP {exc.status} (error {exc.code})") from None
        except (TwilioException, RequestException) as exc:
            raise LookupFailed(f"Twilio could not be asked ({exc.__class__.__name__})") from None
        info = answer.line_type_intelligence or {}
        kind = info.get("type") if isinstance(info, dict) else None
        if not kind or info.get("error_code"):
            raise LookupFailed(f"no line type in the answer (error {info.get('error_code')})")
        return LINE_TYPES.get(str(kind), "unknown")
