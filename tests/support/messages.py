"""Messaging webhooks as Twilio posts them: an inbound SMS or WhatsApp message, or any form, signed."""

from __future__ import annotations

from typing import Any

from tests.support.calls import ACCOUNT_SID, PUBLIC_BASE, sign

INBOUND_PATH = "/twilio/messaging/inbound"
BUSINESS_NUMBER = "+77001234567"  # DEFLECT_WHATSAPP_NUMBER in the test settings


def post_signed(client: Any, path: str, params: dict[str, str], *, signed: bool = True) -> Any:
    """POST a form to one of our Twilio webhooks, signed as Twilio signs it (or not)."""
    headers = {"X-Twilio-Signature": sign(PUBLIC_BASE + path, params)} if signed else {}
    return client.post(path, data=params, headers=headers, base_url=PUBLIC_BASE)


def inbound_params(
    body: str,
    *,
    sender: str = "+79161234567",
    sid: str = "SM" + "a" * 32,
    channel: str = "whatsapp",
    profile_name: str | None = "Анна",
) -> dict[str, str]:
    """An inbound message's parameters: WhatsApp (`whatsapp:` addresses, WaId, ProfileName) or SMS."""
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    params = {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": prefix + sender,
        "To": prefix + BUSINESS_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    if channel == "whatsapp":
        params["WaId"] = sender.removeprefix("+")
        if profile_name:
            params["ProfileName"] = profile_name
    return params


def post_inbound(client: Any, body: str, **params: Any) -> Any:
    """An inbound message (see `inbound_params`), signed; the response as the test client gives it."""
    return post_signed(client, INBOUND_PATH, inbound_params(body, **params))
