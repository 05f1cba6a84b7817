"""What Twilio's messaging webhooks mean, apart from HTTP: an SMS status callback moves its outbox row,
an inbound message is a chat to receive. The web handlers and the replay of parked webhooks (when the
database was down) both call these, so a replayed webhook is handled exactly like a live one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.deflection.outbox import record_status
from gateway.flows.state import Event
from gateway.handoff.inbound import InboundChat, InboundResult, receive
from gateway.messaging.providers import provider_status
from gateway.store.call_log import CallLog

log = logging.getLogger(__name__)


def apply_status(svc: Any, outbox_id: int, form: Mapping[str, str], now: datetime) -> bool:
    """A status callback for one outbox row; False when it does not belong to any."""
    sid, state = form.get("MessageSid", ""), form.get("MessageStatus", "")
    code = form.get("ErrorCode")
    row = record_status(
        svc.database,
        outbox_id,
        sid=sid,
        status=provider_status(state),
        error_code=int(code) if code and code.isdigit() else None,
        now=now,
    )
    if row is None:
        log.warning("status callback for unknown outbox %d / %s ignored", outbox_id, sid)
        return False
    CallLog(svc.database, svc.redis).record(
        row.call_sid,
        [Event("sms.status", {"outbox_id": outbox_id, "status": state, "error_code": row.error_code})],
        now.timestamp(),
    )
    return True


def inbound_chat(form: Mapping[str, str]) -> InboundChat:
    sender = form.get("From", "")
    count = int(form.get("NumMedia", "0")) if form.get("NumMedia", "0").isdigit() else 0
    media = [
        {"url": form.get(f"MediaUrl{i}"), "type": form.get(f"MediaContentType{i}")}
        for i in range(min(count, 10))  # Twilio sends at most 10
    ]
    return InboundChat(
        message_id=form.get("MessageSid", ""),
        channel="whatsapp" if sender.startswith("whatsapp:") else "sms",
        sender=sender,
        body=form.get("Body", ""),
        profile_name=form.get("ProfileName") or None,
        media={"items": media} if media else {},
    )


def apply_inbound(svc: Any, form: Mapping[str, str], now: datetime) -> InboundResult:
    return receive(svc, inbound_chat(form), now)
