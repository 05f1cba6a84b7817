"""The Twilio Conversations adapter: a WhatsApp or SMS chat becomes a Conversation with the customer in
it, the call's story in its attributes and a system message summing it up for the agent.

Safe to retry: the Conversation's unique name is derived from the hand-off id, so a retry after a lost
response finds the Conversation it created instead of opening a second one.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from gateway.handoff.base import Delivered, HandoffError, HandoffPayload

log = logging.getLogger(__name__)

# Twilio error codes (https://www.twilio.com/docs/api/errors).
CONVERSATION_EXISTS = 50353  # a Conversation with this unique name already exists
PARTICIPANT_EXISTS = 50416  # this address / proxy address pair is already a participant
TRANSIENT_STATUSES = frozenset({408, 409, 429})
MAX_FRIENDLY_NAME = 256
MAX_MESSAGE_BODY = 1600
SUMMARY_KIND = "call_summary"  # marks our system message in its attributes, so a retry does not repeat it
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class ConversationsAdapter:
    """Hands a WhatsApp or SMS chat to agents working in Twilio Conversations.

    `client` is a `twilio.rest.Client`; `whatsapp_sender` the business WhatsApp number (E.164) the
    customer writes to; `sms_sender` the SMS number (defaults to `whatsapp_sender`); `service_sid` a
    Conversations service (IS...), or None for the account's default service. With `webhook_enabled`,
    Twilio also fires the service's post-event webhooks for what we create (X-Twilio-Webhook-Enabled).
    """

    name = "conversations"

    def __init__(
        self,
        client: Any,
        *,
        whatsapp_sender: str,
        service_sid: str | None = None,
        sms_sender: str | None = None,
        webhook_enabled: bool = False,
    ) -> None:
        self.client = client
        self.whatsapp_sender = _plain(whatsapp_sender)
        self.sms_sender = _plain(sms_sender or whatsapp_sender)
        self.service_sid = service_sid
        self.webhook_enabled = webhook_enabled

    def deliver(self, payload: HandoffPayload) -> Delivered:
        """Create (or find) the Conversation, add the customer, post the summary; return its SID."""
        address, proxy = self.binding(payload)
        try:
            conversation, existed = self._open(payload)
            self._add_customer(conversation.sid, address, proxy)
            self._post_summary(conversation.sid, payload, check_existing=existed)
        except TwilioRestException as exc:
            raise rest_error(exc) from exc
        except TwilioException as exc:  # the client raises the base class for some 5xx and list errors
            raise HandoffError(f"Twilio Conversations failed: {exc}", permanent=False) from exc
        except requests.RequestException as exc:
            raise HandoffError(f"Twilio Conversations unreachable: {type(exc).__name__}") from exc
        log.info("hand-off %d delivered to conversation %s", payload.handoff_id, conversation.sid)
        return Delivered(external_id=conversation.sid)

    def binding(self, payload: HandoffPayload) -> tuple[str, str]:
        """The customer's messaging binding: (address, proxy address) for the payload's channel.
        Refused before any request when there is no customer number: Twilio requires the address."""
        number = _plain(payload.customer_address)
        if payload.channel in ("whatsapp", "sms") and not _E164.fullmatch(number):
            raise HandoffError("conversations adapter needs the customer's E.164 number", permanent=True)
        if payload.channel == "whatsapp":
            return f"whatsapp:{number}", f"whatsapp:{self.whatsapp_sender}"
        if payload.channel == "sms":
            return number, self.sms_sender
        raise HandoffError("conversations adapter handles WhatsApp and SMS only", permanent=True)

    def _conversations(self) -> Any:
        v1 = self.client.conversations.v1
        return v1.services(self.service_sid).conversations if self.service_sid else v1.conversations

    def _header(self) -> dict[str, str]:
        return {"x_twilio_webhook_enabled": "true"} if self.webhook_enabled else {}

    def _open(self, payload: HandoffPayload) -> tuple[Any, bool]:
        """The hand-off's Conversation and whether it existed already (a retry)."""
        unique_name = f"handoff-{payload.handoff_id}"
        try:
            created = self._conversations().create(
                friendly_name=friendly_name(payload),
                unique_name=unique_name,
                attributes=json.dumps(payload.to_json(), ensure_ascii=False, separators=(",", ":")),
                **self._header(),
            )
            return created, False
        except TwilioRestException as exc:
            if exc.code != CONVERSATION_EXISTS and exc.status != 409:
                raise
        # Created by an earlier attempt whose response was lost: a unique name also addresses it.
        log.info("conversation %s exists already; continuing the hand-off in it", unique_name)
        return self._conversations()(unique_name).fetch(), True

    def _add_customer(self, conversation_sid: str, address: str, proxy: str) -> None:
        try:
            self._conversations()(conversation_sid).participants.create(
                messaging_binding_address=address,
                messaging_binding_proxy_address=proxy,
                **self._header(),
            )
        except TwilioRestException as exc:
            if exc.code != PARTICIPANT_EXISTS:
                raise
            # Added by an earlier attempt, or still in another open Conversation (then the agent's
            # replies go there: close stale Conversations with timers on the service).
            log.warning("participant already exists for conversation %s: %s", conversation_sid, exc.msg)

    def _post_summary(self, conversation_sid: str, payload: HandoffPayload, *, check_existing: bool) -> None:
        messages = self._conversations()(conversation_sid).messages
        marker = {"kind": SUMMARY_KIND, "handoff_id": payload.handoff_id}
        if check_existing and any(_attributes(m) == marker for m in messages.list(limit=50)):
            return
        messages.create(
            author="system",
            body=payload.summary()[:MAX_MESSAGE_BODY],
            attributes=json.dumps(marker),
            **self._header(),
        )


def friendly_name(payload: HandoffPayload) -> str:
    """What agents see in their list: the call's reference in the customer's language."""
    russian = (payload.story.locale or "").startswith("ru")
    if payload.story.reference:
        name = f"{'Звонок' if russian else 'Call'} {payload.story.reference}"
    else:
        name = f"{'Чат' if russian else 'Chat'} {payload.handoff_id}"
    return name[:MAX_FRIENDLY_NAME]


def rest_error(exc: TwilioRestException) -> HandoffError:
    """Twilio's refusal as a HandoffError: a 4xx will not get better by retrying, except timeouts,
    conflicts (a concurrent attempt) and rate limits."""
    status = int(exc.status or 0)
    transient = status in TRANSIENT_STATUSES or status >= 500 or status == 0
    return HandoffError(
        f"Twilio Conversations refused the hand-off: HTTP {status}, error {exc.code}: {exc.msg}",
        permanent=not transient,
    )


def _plain(address: str) -> str:
    return address.removeprefix("whatsapp:").strip()


def _attributes(message: Any) -> Any:
    try:
        return json.loads(message.attributes or "{}")
    except (TypeError, ValueError):
        return None
