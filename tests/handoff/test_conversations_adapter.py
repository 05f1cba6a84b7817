"""The Conversations adapter: what it sends through the real `twilio` client satisfies Twilio's
Conversations contract (Prism answers 422 otherwise), retries find the same Conversation, and Twilio's
refusals become permanent or retryable hand-off errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from gateway.handoff.base import HandoffError, HandoffPayload
from gateway.handoff.conversations import ConversationsAdapter
from gateway.handoff.story import CallStory
from gateway.settings import load_settings
from gateway.twilio_rest import make_client
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN
from tests.support.prism import PrismServer

SERVICE_SID = "IS" + "3" * 32
WHATSAPP_SENDER = "+77001234567"


def _payload(**changes: Any) -> HandoffPayload:
    story = CallStory(
        reference="K7XAMN",
        call_sid="CA" + "4" * 32,
        caller="+79161234567",
        flow_id="ru-bank-support",
        locale="ru-RU",
        queue="bank-cards",
        menu_choices=["Карты", "Вопрос по карте"],
        waited_seconds=420,
        position=9,
        consent_id=5,
        called_at="2026-11-24T09:00:00+00:00",
    )
    payload = HandoffPayload(
        handoff_id=17,
        session_id=3,
        channel="whatsapp",
        customer_address="whatsapp:+79161234567",
        customer_name="Анна",
        first_message="K7XAMN",
        message_id="SM" + "5" * 32,
        match="reference",
        flagged=None,
        story=story,
        context_card_url="https://voice.example.test/handoff/card/abc",
    )
    return replace(payload, **changes)


@dataclass
class Sent:
    method: str
    path: str
    data: dict[str, Any]
    headers: dict[str, str]
    status: int


@dataclass
class Recorder:
    """Wraps the client's HTTP layer to keep every request and the mock's status code."""

    sent: list[Sent] = field(default_factory=list)

    def attach(self, client: Any, *, refuse_create: bool = False) -> None:
        inner = client.http_client.request

        def request(method: str, url: str, **kwargs: Any) -> Any:
            target = client.http_client.target(url)
            path = "/" + target.split("/", 3)[3]
            data = dict(kwargs.get("data") or {})
            if refuse_create and method == "POST" and path.endswith("/Conversations"):
                # Twilio's answer to a retry whose first response was lost; Prism only knows 201.
                self.sent.append(Sent(method, path, data, kwargs.get("headers") or {}, 409))
                raise TwilioRestException(
                    409, url, "Conversation with provided unique name already exists", 50353, method
                )
            response = inner(method, url, **kwargs)
            headers = dict(kwargs.get("headers") or {})
            self.sent.append(Sent(method, path, data, headers, response.status_code))
            return response

        client.http_client.request = request


def _client(api: PrismServer, tmp_path: Path) -> Any:
    settings = load_settings(
        {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL_OVERRIDES": f"conversations={api.url}",
            "TWILIO_SMS_FROM": "+77012345678",
            "DEFLECT_DATA_DIR": str(tmp_path),
        },
        environ={},
    )
    return make_client(settings)


def _adapter(api: PrismServer, tmp_path: Path, recorder: Recorder, **options: Any) -> ConversationsAdapter:
    client = _client(api, tmp_path)
    recorder.attach(client, refuse_create=options.pop("refuse_create", False))
    options.setdefault("whatsapp_sender", WHATSAPP_SENDER)
    return ConversationsAdapter(client, **options)


def _assert_accepted(recorder: Recorder) -> None:
    refused = [s for s in recorder.sent if not 200 <= s.status < 300 and s.status != 409]
    assert not refused, f"Prism refused {refused}"


@pytest.mark.contract
def test_whatsapp_chat_becomes_a_conversation_with_customer_and_summary(
    conversations_api: PrismServer, tmp_path: Path
) -> None:
    recorder = Recorder()
    payload = _payload()
    delivered = _adapter(conversations_api, tmp_path, recorder, service_sid=None).deliver(payload)

    assert delivered.external_id and delivered.external_id.startswith("CH")
    _assert_accepted(recorder)
    create, participant, message = recorder.sent
    assert (create.method, create.path) == ("POST", "/v1/Conversations")
    assert create.data["UniqueName"] == "handoff-17"
    assert create.data["FriendlyName"] == "Звонок K7XAMN"
    assert json.loads(create.data["Attributes"]) == payload.to_json()
    conversation = delivered.external_id
    assert participant.path == f"/v1/Conversations/{conversation}/Participants"
    assert participant.data == {
        "MessagingBinding.Address": "whatsapp:+79161234567",
        "MessagingBinding.ProxyAddress": "whatsapp:+77001234567",
    }
    assert message.path == f"/v1/Conversations/{conversation}/Messages"
    assert message.data["Author"] == "system"
    assert message.data["Body"] == payload.summary()
    assert message.data["Body"].startswith("Звонок K7XAMN: ждал(а) 7 мин в очереди bank-cards")
    assert "X-Twilio-Webhook-Enabled" not in create.headers


@pytest.mark.contract
def test_service_scoped_sms_hand_off_satisfies_contract(
    conversations_api: PrismServer, tmp_path: Path
) -> None:
    recorder = Recorder()
    adapter = _adapter(
        conversations_api,
        tmp_path,
        recorder,
        service_sid=SERVICE_SID,
        sms_sender="+77012345678",
        webhook_enabled=True,
    )
    payload = _payload(
        channel="sms", customer_address="+79161234567", story=replace(_payload().story, locale="en-US")
    )
    delivered = adapter.deliver(payload)

    _assert_accepted(recorder)
    prefix = f"/v1/Services/{SERVICE_SID}/Conversations"
    assert [s.path for s in recorder.sent] == [
        prefix,
        f"{prefix}/{delivered.external_id}/Participants",
        f"{prefix}/{delivered.external_id}/Messages",
    ]
    assert recorder.sent[0].data["FriendlyName"] == "Call K7XAMN"
    assert recorder.sent[1].data == {
        "MessagingBinding.Address": "+79161234567",
        "MessagingBinding.ProxyAddress": "+77012345678",
    }
    assert all(s.headers.get("X-Twilio-Webhook-Enabled") == "true" for s in recorder.sent)


@pytest.mark.contract
def test_unmatched_chat_is_handed_off_too(conversations_api: PrismServer, tmp_path: Path) -> None:
    recorder = Recorder()
    story = CallStory(None, None, None, None, None, None)
    payload = _payload(match="unmatched", session_id=None, story=story, context_card_url=None)
    _adapter(conversations_api, tmp_path, recorder).deliver(payload)

    _assert_accepted(recorder)
    assert recorder.sent[0].data["FriendlyName"] == "Chat 17"
    assert recorder.sent[2].data["Body"] == "Chat not tied to a call"


@pytest.mark.contract
def test_retry_after_lost_response_continues_in_the_same_conversation(
    conversations_api: PrismServer, tmp_path: Path
) -> None:
    recorder = Recorder()
    delivered = _adapter(conversations_api, tmp_path, recorder, refuse_create=True).deliver(_payload())

    _assert_accepted(recorder)
    methods_paths = [(s.method, s.path) for s in recorder.sent]
    assert methods_paths[:2] == [("POST", "/v1/Conversations"), ("GET", "/v1/Conversations/handoff-17")]
    assert delivered.external_id and delivered.external_id.startswith("CH")
    # It looked for its own summary before posting (Prism's example messages are not ours: posted).
    assert ("GET", f"/v1/Conversations/{delivered.external_id}/Messages") in methods_paths
    assert methods_paths[-1] == ("POST", f"/v1/Conversations/{delivered.external_id}/Messages")


@pytest.mark.contract
def test_request_breaking_the_contract_is_refused_permanently(
    conversations_api: PrismServer, tmp_path: Path
) -> None:
    # A malformed parameter (here a RoleSid that is not RL + 32 hex) is our bug: Prism says 422, as
    # Twilio would say 400, and retrying cannot help.
    client = _client(conversations_api, tmp_path)
    inner = client.http_client.request

    def broken(method: str, url: str, **kwargs: Any) -> Any:
        if url.endswith("/Participants"):
            kwargs["data"] = {**kwargs["data"], "RoleSid": "RL-not-a-sid"}
        return inner(method, url, **kwargs)

    client.http_client.request = broken
    with pytest.raises(HandoffError) as excinfo:
        ConversationsAdapter(client, whatsapp_sender=WHATSAPP_SENDER, service_sid=None).deliver(_payload())
    assert excinfo.value.permanent
    assert "HTTP 422" in str(excinfo.value)


@pytest.mark.contract
@pytest.mark.parametrize(
    ("channel", "address"), [("sms", ""), ("whatsapp", "whatsapp:"), ("sms", "  "), ("sms", "12345")]
)
def test_chat_without_a_customer_number_is_refused_before_any_request(
    conversations_api: PrismServer, tmp_path: Path, channel: str, address: str
) -> None:
    # Twilio's contract requires the participant's address: a request without it is only a 400 later.
    recorder = Recorder()
    adapter = _adapter(conversations_api, tmp_path, recorder)
    with pytest.raises(HandoffError, match="E.164") as excinfo:
        adapter.deliver(_payload(channel=channel, customer_address=address))
    assert excinfo.value.permanent
    assert recorder.sent == []


def test_telegram_chat_is_refused_permanently() -> None:
    adapter = ConversationsAdapter(StubClient(), whatsapp_sender=WHATSAPP_SENDER, service_sid=None)
    with pytest.raises(HandoffError, match="WhatsApp and SMS only") as excinfo:
        adapter.deliver(_payload(channel="telegram", customer_address="tg:123456"))
    assert excinfo.value.permanent


class StubConversations:
    """Just enough of the client's conversations list/context to raise what Twilio would."""

    def __init__(self, error: Exception | None, participant_error: Exception | None) -> None:
        self.error, self.participant_error = error, participant_error
        self.messages_posted = 0

    def create(self, **_: Any) -> Any:
        if self.error is not None:
            raise self.error
        return _Obj(sid="CH" + "6" * 32)

    def __call__(self, _sid: str) -> Any:
        return _Obj(participants=_Obj(create=self._participant), messages=_Obj(create=self._message))

    def _participant(self, **_: Any) -> Any:
        if self.participant_error is not None:
            raise self.participant_error
        return _Obj(sid="MB1")

    def _message(self, **_: Any) -> Any:
        self.messages_posted += 1
        return _Obj(sid="IM1")


class _Obj:
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class StubClient:
    def __init__(self, error: Exception | None = None, participant_error: Exception | None = None) -> None:
        self.list = StubConversations(error, participant_error)
        self.conversations = _Obj(v1=_Obj(conversations=self.list))


def _rest(status: int, code: int | None = None) -> TwilioRestException:
    return TwilioRestException(status, "https://conversations.twilio.com/v1/Conversations", "refused", code)


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (_rest(400, 50100), True),
        (_rest(401, 20003), True),
        (_rest(403, 20403), True),
        (_rest(404, 20404), True),
        (_rest(408), False),
        (_rest(429, 20429), False),
        (_rest(500), False),
        (_rest(503), False),
        (TwilioException("Unable to create record"), False),
        (requests.ConnectionError("refused"), False),
        (requests.Timeout("slow"), False),
    ],
)
def test_twilio_refusals_map_to_permanent_or_retryable(error: Exception, permanent: bool) -> None:
    adapter = ConversationsAdapter(StubClient(error), whatsapp_sender=WHATSAPP_SENDER, service_sid=None)
    with pytest.raises(HandoffError) as excinfo:
        adapter.deliver(_payload())
    assert excinfo.value.permanent is permanent


def test_customer_already_in_the_conversation_is_fine() -> None:
    client = StubClient(participant_error=_rest(409, 50416))
    adapter = ConversationsAdapter(client, whatsapp_sender=WHATSAPP_SENDER, service_sid=None)
    assert adapter.deliver(_payload()).external_id == "CH" + "6" * 32
    assert client.list.messages_posted == 1


def test_other_participant_errors_are_not_swallowed() -> None:
    client = StubClient(participant_error=_rest(400, 50407))
    adapter = ConversationsAdapter(client, whatsapp_sender=WHATSAPP_SENDER, service_sid=None)
    with pytest.raises(HandoffError) as excinfo:
        adapter.deliver(_payload())
    assert excinfo.value.permanent
    assert client.list.messages_posted == 0
