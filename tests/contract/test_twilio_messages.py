"""Contract: the SMS we send through the real `twilio` client satisfy Twilio's OpenAPI description,
served by Prism. A request that breaks the contract gets 422 from Prism and fails here."""

from __future__ import annotations

import pytest

from gateway.messaging.providers import SendError, TwilioProvider
from gateway.settings import load_settings
from gateway.twilio_rest import RedirectingHttpClient, make_client
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.prism import PrismServer

pytestmark = pytest.mark.contract


def _provider(twilio_api: PrismServer, tmp_path: object, **extra: str) -> TwilioProvider:
    settings = load_settings(
        {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": twilio_api.url,
            "TWILIO_SMS_FROM": "+77012345678",
            "DEFLECT_DATA_DIR": str(tmp_path),
            **extra,
        },
        environ={},
    )
    return TwilioProvider(
        make_client(settings),
        sender=settings.twilio_sms_from,
        messaging_service_sid=settings.twilio_messaging_service_sid,
    )


def test_sms_request_satisfies_twilio_contract(twilio_api: PrismServer, tmp_path: object) -> None:
    sent = _provider(twilio_api, tmp_path).send(
        to="+79161234567",
        body="Ссылка на WhatsApp: https://wa.me/77001234567?text=K7Q2MX",
        status_callback="https://voice.example.test/twilio/messaging/status/1",
        idempotency_key="outbox-1",
    )
    assert sent.sid.startswith("SM")
    assert sent.status in {"queued", "accepted", "sending", "sent"}


def test_messaging_service_sender_satisfies_twilio_contract(
    twilio_api: PrismServer, tmp_path: object
) -> None:
    provider = _provider(twilio_api, tmp_path, TWILIO_MESSAGING_SERVICE_SID="MG" + "2" * 32)
    assert provider.send(
        to="+77011234567", body="hello", status_callback=None, idempotency_key="outbox-2"
    ).sid.startswith("SM")


def test_request_breaking_the_contract_is_refused_permanently(
    twilio_api: PrismServer, tmp_path: object
) -> None:
    # Twilio's contract says StatusCallback is a URI; a relative path is a bug of ours, and Prism
    # says so, as Twilio would.
    with pytest.raises(SendError) as excinfo:
        _provider(twilio_api, tmp_path).send(
            to="+79161234567", body="x", status_callback="/relative/callback", idempotency_key="outbox-3"
        )
    assert excinfo.value.permanent


def test_every_twilio_host_is_redirected_and_overrides_win() -> None:
    client = RedirectingHttpClient("http://127.0.0.1:4010", {"conversations": "http://127.0.0.1:4011"}, 5)
    assert client.target("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json") == (
        "http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json"
    )
    assert client.target("https://lookups.twilio.com/v2/PhoneNumbers/+7") == (
        "http://127.0.0.1:4010/v2/PhoneNumbers/+7"
    )
    assert client.target("https://conversations.twilio.com/v1/Conversations") == (
        "http://127.0.0.1:4011/v1/Conversations"
    )
    assert client.target("https://example.com/x") == "https://example.com/x"
    assert RedirectingHttpClient(None, {}, 5).target("https://api.twilio.com/x") == (
        "https://api.twilio.com/x"
    )
