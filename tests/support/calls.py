"""Plays a call through the voice webhooks the way Twilio does: real parameters, real signatures,
following the action URLs of the TwiML each webhook returns."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

AUTH_TOKEN = "12345678901234567890123456789012"
ACCOUNT_SID = "AC" + "1" * 32
PUBLIC_BASE = "https://voice.example.test"


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


@dataclass
class TwiML:
    status: int
    root: ET.Element
    text: str

    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    def find(self, tag: str) -> ET.Element:
        found = self.root.find(f".//{tag}")
        assert found is not None, f"no <{tag}> in {self.text}"
        return found

    def all(self, tag: str) -> list[ET.Element]:
        return self.root.findall(f".//{tag}")

    def said(self) -> str:
        return " ".join((e.text or "") for e in self.root.iter("Say"))


@dataclass
class Call:
    """One caller's call; each method posts one webhook as Twilio would."""

    client: Any
    caller: str = "+79161234567"
    called: str = "+74952223344"
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    token: str = AUTH_TOKEN
    queue_position: int = 1
    queue_size: int = 1
    queue_time: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    base: str = PUBLIC_BASE  # the URL Twilio calls (and signs)

    def params(self, **more: str) -> dict[str, str]:
        base = {
            "CallSid": self.call_sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.caller,
            "To": self.called,
            "Caller": self.caller,
            "Called": self.called,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **self.extra,
        }
        return {**base, **more}

    def post(
        self,
        url_or_path: str,
        *,
        signed: bool = True,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
        **params: str,
    ) -> TwiML:
        path = urlsplit(url_or_path).path if url_or_path.startswith("http") else url_or_path
        data = self.params(**params)
        sent_headers = dict(headers or {})
        if signature is not None:
            sent_headers["X-Twilio-Signature"] = signature
        elif signed:
            sent_headers["X-Twilio-Signature"] = sign(self.base + path, data, self.token)
        response = self.client.post(path, data=data, headers=sent_headers, base_url=self.base)
        text = response.get_data(as_text=True)
        root = ET.fromstring(text) if response.mimetype == "text/xml" else ET.Element("NotTwiML")
        return TwiML(response.status_code, root, text)

    # The webhooks, by what happens on the call.
    def incoming(self, **params: str) -> TwiML:
        return self.post("/twilio/voice/incoming", **params)

    def press(self, twiml: TwiML, digits: str) -> TwiML:
        """Answer the Gather of the last TwiML with keys."""
        return self.post(twiml.find("Gather").attrib["action"], Digits=digits)

    def say_nothing(self, twiml: TwiML) -> TwiML:
        """No key: Twilio falls through the Gather to the Redirect after it."""
        return self.post(twiml.find("Redirect").text or "")

    def wait(self, **params: str) -> TwiML:
        return self.post(
            "/twilio/voice/wait",
            QueueSid="QU" + "a" * 32,
            QueuePosition=str(self.queue_position),
            CurrentQueueSize=str(self.queue_size),
            QueueTime=str(self.queue_time),
            AvgQueueTime="240",
            **params,
        )

    def queue_result(self, result: str, **params: str) -> TwiML:
        return self.post(
            "/twilio/voice/queue-result",
            QueueResult=result,
            QueueSid="QU" + "a" * 32,
            QueueTime=str(self.queue_time),
            **params,
        )

    def status(self, status: str = "completed", **params: str) -> TwiML:
        return self.post("/twilio/voice/status", CallStatus=status, CallDuration="95", **params)
