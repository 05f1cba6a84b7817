"""The signature check accepts exactly what twilio's `RequestValidator.validate` accepts for a form
(the URL signed with or without its default port), computing the second HMAC only when needed."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from gateway.web.signature import signature_matches

TOKEN = "0123456789abcdef0123456789abcdef"
PARAMS = MultiDict([("CallSid", "CA" + "1" * 32), ("From", "+79161234567"), ("Digits", "1")])
URLS = (
    "https://voice.example.test/twilio/voice/wait",
    "https://voice.example.test:443/twilio/voice/wait",
    "http://voice.example.test/twilio/voice/wait?x=1",
    "http://voice.example.test:80/twilio/voice/wait?x=1",
    "https://voice.example.test:8443/twilio/voice/wait",
)


@pytest.mark.parametrize("signed_url", URLS)
@pytest.mark.parametrize("checked_url", URLS)
def test_a_signature_is_accepted_exactly_when_twilio_validate_accepts_it(
    signed_url: str, checked_url: str
) -> None:
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(signed_url, PARAMS)
    expected = validator.validate(checked_url, PARAMS, signature)
    assert signature_matches(validator, checked_url, PARAMS, signature) is expected


def test_a_signature_of_other_parameters_or_another_token_is_refused() -> None:
    url = URLS[0]
    signature = RequestValidator(TOKEN).compute_signature(url, PARAMS)
    changed = MultiDict([*PARAMS.items(multi=True), ("Digits", "2")])
    assert signature_matches(RequestValidator(TOKEN), url, PARAMS, signature)
    assert not signature_matches(RequestValidator(TOKEN), url, changed, signature)
    assert not signature_matches(RequestValidator("f" * 32), url, PARAMS, signature)
