"""Messaging webhooks: SMS status callbacks for the outbox, and inbound messages (STOP for now; the
chat hand-off builds on the same endpoint)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from gateway.app import services
from gateway.deflection import opt_out
from gateway.deflection.outbox import record_status
from gateway.flows.state import Event
from gateway.phone import parse_number
from gateway.store.call_log import CallLog
from gateway.twilio_hooks.signature import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("messaging", __name__, url_prefix="/twilio/messaging")

# Twilio retries webhooks; one MessageSid is handled once.
SEEN_TTL_SECONDS = 7 * 86400


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
    form = request.form
    svc = services()
    sid = form.get("MessageSid", "")
    body = form.get("Body", "")
    sender = form.get("From", "")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    seen_key = f"deflect:inbound:{sid}"
    if sid and _seen(seen_key):
        return _xml(MessagingResponse())  # a retry of a message already handled
    number = parse_number(sender)
    reply = MessagingResponse()
    if number is not None and opt_out.is_stop(body):
        # Recorded before it is marked seen: if this fails, Twilio's retry gets another chance.
        opt_out.opt_out(svc.database, number.e164, channel, datetime.now(UTC), body)
        reply.message(opt_out.acknowledgement(body))
    if sid:
        _mark_seen(seen_key)
    return _xml(reply)


def _seen(key: str) -> bool:
    try:
        return bool(services().redis.exists(key))
    except Exception:  # without Redis, handle it: every action here is idempotent anyway
        log.warning("inbound de-duplication unavailable (Redis)")
        return False


def _mark_seen(key: str) -> None:
    try:
        services().redis.set(key, "1", ex=SEEN_TTL_SECONDS)
    except Exception:
        log.warning("inbound de-duplication unavailable (Redis)")
