"""Where an SMS leaves: one small interface, a Twilio backend and a dev inbox backend.

The domain only sees `MessageProvider`; which one runs is configuration (`TWILIO_ACCOUNT_SID` set or not).
Errors are split the way a retry policy needs them: permanent (never retry: the number is invalid,
not mobile, opted out...) or transient (429, 5xx, timeouts: retry with backoff).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from gateway.clock import Clock
from gateway.logs import mask_number

log = logging.getLogger(__name__)

# Twilio error codes at create time that no retry can fix.
PERMANENT_TWILIO_ERRORS = frozenset({21211, 21408, 21610, 21614, 21635, 21612, 21606, 21660})


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


def provider_status(status: str | None) -> str:
    """Twilio's message status as the outbox keeps it ("sending" there means accepted by Twilio; ours
    means a worker holds the row)."""
    if status in (None, "", "accepted", "scheduled", "sending"):
        return "queued"
    return status


@dataclass(frozen=True)
class StatusUpdate:
    """What a provider's status callback says about one message (Twilio's MessageStatus webhook)."""

    sid: str
    status: str  # as the outbox keeps it (`provider_status`)
    reported: str  # the provider's own word
    error_code: int | None

    @classmethod
    def from_twilio(cls, form: Mapping[str, str]) -> StatusUpdate:
        reported, code = form.get("MessageStatus", ""), form.get("ErrorCode")
        return cls(
            sid=form.get("MessageSid", ""),
            status=provider_status(reported),
            reported=reported,
            error_code=int(code) if code and code.isdigit() else None,
        )


class SendError(Exception):
    """The provider did not take the message. `permanent` says whether trying again could help."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent


class MessageProvider(Protocol):
    name: str

    def send(
        self, *, to: str, body: str, status_callback: str | None, idempotency_key: str
    ) -> SentMessage: ...

    def find_sent(self, *, to: str, body: str, since: datetime, idempotency_key: str) -> SentMessage | None:
        """A message an earlier attempt got accepted (None: it did not)."""
        ...


class TwilioProvider:
    """Messages API through the real `twilio` client (or its Prism mock)."""

    name = "twilio"

    def __init__(self, client: Any, *, sender: str | None, messaging_service_sid: str | None) -> None:
        if not (sender or messaging_service_sid):
            raise ValueError("TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID is required to send SMS")
        self.client = client
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid

    def send(self, *, to: str, body: str, status_callback: str | None, idempotency_key: str) -> SentMessage:
        from requests import RequestException
        from twilio.base.exceptions import TwilioRestException

        params: dict[str, Any] = {"to": to, "body": body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.sender
        if status_callback:
            params["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**params)
        except TwilioRestException as exc:
            permanent = exc.code in PERMANENT_TWILIO_ERRORS or (
                400 <= exc.status < 500 and exc.status not in (408, 429)
            )
            raise SendError(
                f"Twilio refused the message: {exc.msg}", code=exc.code, permanent=permanent
            ) from exc
        except RequestException as exc:
            # Not str(exc): requests puts the URL into its messages, and a list's URL holds the number.
            raise SendError(f"Twilio could not be reached: {type(exc).__name__}", permanent=False) from None
        return SentMessage(sid=message.sid, status=provider_status(message.status))

    def find_sent(self, *, to: str, body: str, since: datetime, idempotency_key: str) -> SentMessage | None:
        from requests import RequestException
        from twilio.base.exceptions import TwilioException

        try:
            # Twilio has no idempotency key for Messages: look for the same text to the same number.
            recent = self.client.messages.list(to=to, date_sent_after=since - timedelta(minutes=5), limit=50)
        except TwilioException as exc:  # a 5xx on a list is a plain TwilioException
            raise SendError(f"could not ask Twilio about an earlier attempt: {exc}", permanent=False) from exc
        except RequestException as exc:
            raise SendError(
                f"could not ask Twilio about an earlier attempt: {type(exc).__name__}", permanent=False
            ) from None
        for message in recent:
            if message.body == body and message.direction in (None, "outbound-api"):
                return SentMessage(sid=message.sid, status=provider_status(message.status))
        return None


class DevInboxProvider:
    """No Twilio account: messages are stored in the `local_outbox` table and listed by
    `deflect inbox list`, so the whole journey can be tried on a laptop."""

    name = "dev-inbox"

    def __init__(self, database: Any, clock: Clock, sender: str | None = None) -> None:
        self.database = database
        self.clock = clock
        self.sender = sender

    def send(self, *, to: str, body: str, status_callback: str | None, idempotency_key: str) -> SentMessage:
        from sqlalchemy import select

        from gateway.store.models import DevInboxMessage

        sid = "SM" + secrets.token_hex(16)
        try:
            with self.database.session() as session:
                session.add(
                    DevInboxMessage(
                        sid=sid,
                        idempotency_key=idempotency_key,
                        to=to,
                        sender=self.sender,
                        body=body,
                        status_callback=status_callback,
                        created_at=self.clock.now(),
                    )
                )
        except IntegrityError:
            # The same message asked for twice: answer with the first one, like an idempotent API.
            with self.database.session() as session:
                sid = session.scalars(
                    select(DevInboxMessage.sid).where(DevInboxMessage.idempotency_key == idempotency_key)
                ).one()
        log.info("message stored in the dev inbox", extra={"to": mask_number(to), "sid": sid})
        return SentMessage(sid=sid, status="sent")

    def find_sent(self, *, to: str, body: str, since: datetime, idempotency_key: str) -> SentMessage | None:
        from sqlalchemy import select

        from gateway.store.models import DevInboxMessage

        with self.database.session() as session:
            sid = session.scalar(
                select(DevInboxMessage.sid).where(DevInboxMessage.idempotency_key == idempotency_key)
            )
        return SentMessage(sid=sid, status="sent") if sid else None
