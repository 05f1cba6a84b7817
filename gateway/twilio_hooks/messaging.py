"""Messaging webhooks: SMS status callbacks for the outbox, and inbound messages (STOP for now; the
chat hand-off builds on the same endpoint)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from gateway.app import services
from gateway.deflection.outbox import record_status
from gateway.flows.state import Event
from gateway.handoff.inbound import InboundChat, receive
from gateway.store.call_log import CallLog
from gateway.twilio_hooks.signature import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("messaging", __name__, url_prefix="/twilio/messaging")


def _xml(response: MessagingResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


@bp.post("/status/<int:outbox_id>")
@twilio_signed
def status(outbox_id: int) -> Response:
    form = request.form
    svc = services()
    sid, state = form.get("MessageSid", ""), form.get("MessageStatus", "")
    code = form.get("ErrorCode")
    row = record_status(
        svc.database,
        outbox_id,
        sid=sid,
        status=_status(state),
        error_code=int(code) if code and code.isdigit() else None,
        now=datetime.now(UTC),
    )
    if row is None:
        log.warning("status callback for unknown outbox %d / %s ignored", outbox_id, sid)
        return Response(status=204)
    CallLog(svc.database, svc.redis).record(
        row.call_sid,
        [Event("sms.status", {"outbox_id": outbox_id, "status": state, "error_code": row.error_code})],
        time.time(),
    )
    return Response(status=204)


def _status(twilio_status: str) -> str:
    from gateway.messaging.providers import provider_status

    return provider_status(twilio_status)


@bp.post("/inbound")
@twilio_signed
def inbound() -> Response:
    """An SMS or WhatsApp message: STOP, or the chat that continues a call (matched and handed off)."""
    form = request.form
    sender = form.get("From", "")
    chat = InboundChat(
        message_id=form.get("MessageSid", ""),
        channel="whatsapp" if sender.startswith("whatsapp:") else "sms",
        sender=sender,
        body=form.get("Body", ""),
        profile_name=form.get("ProfileName") or None,
        media=_media(form),
    )
    if not chat.message_id:
        return Response("MessageSid is missing\n", status=400, mimetype="text/plain")
    result = receive(services(), chat, datetime.now(UTC))
    reply = MessagingResponse()
    if result.reply:
        reply.message(result.reply)
    return _xml(reply)


def _media(form: Any) -> dict[str, Any]:
    count = int(form.get("NumMedia", "0") or 0)
    items = [
        {"url": form.get(f"MediaUrl{i}"), "type": form.get(f"MediaContentType{i}")} for i in range(count)
    ]
    return {"items": items} if items else {}
