"""Messaging webhooks: SMS status callbacks for the outbox, and inbound chat messages (STOP, or the chat
that continues a call). Thin: the meaning is in `deflection.outbox.apply_status` and
`handoff.inbound.receive`, which the replay of parked webhooks calls too. When the database cannot
take a webhook, it is parked in Redis and replayed (Twilio would not send it again)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from gateway.deflection.outbox import apply_status
from gateway.handoff.inbound import InboundChat
from gateway.messaging.providers import StatusUpdate
from gateway.store.parked import park
from gateway.web.context import services
from gateway.web.signature import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("messaging", __name__, url_prefix="/twilio/messaging")


def _xml(response: MessagingResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


@bp.post("/status/<int:outbox_id>")
@twilio_signed
def status(outbox_id: int) -> Response:
    form = request.form.to_dict()
    try:
        svc = services()
        apply_status(svc.database, svc.call_log, outbox_id, StatusUpdate.from_twilio(form), svc.clock.now())
    except Exception:
        log.exception("status callback for outbox %d not recorded now; parking it", outbox_id)
        return _parked("status", {"outbox_id": outbox_id, "form": form}, Response(status=204))
    return Response(status=204)


@bp.post("/inbound")
@twilio_signed
def inbound() -> Response:
    """An SMS or WhatsApp message: STOP, or the chat that continues a call (matched and handed off)."""
    form = request.form.to_dict()
    if not form.get("MessageSid"):
        return Response("MessageSid is missing\n", status=400, mimetype="text/plain")
    try:
        result = services().inbound.receive(InboundChat.from_twilio(form), services().clock.now())
    except Exception:
        log.exception("inbound message not handled now; parking it")
        # The acknowledgement is not sent on replay: better late than twice, and the agent answers.
        return _parked("inbound", {"form": form}, _xml(MessagingResponse()))
    if result.refused:
        # Stored for the record; Twilio's debugger shows this answer to whoever looks into it.
        return Response(f"message refused: {result.refused}\n", status=400, mimetype="text/plain")
    reply = MessagingResponse()
    if result.reply:
        reply.message(result.reply)
    return _xml(reply)


def _parked(kind: str, params: dict[str, Any], answer: Response) -> Response:
    """Twilio does not resend messaging webhooks: keep this one for the replay job, or say we could not."""
    try:
        park(services().redis, kind, params, services().clock.time())
    except Exception:
        log.exception("could not park the %s webhook either (Redis): it is lost", kind)
        return Response("temporarily unavailable\n", status=503, mimetype="text/plain")
    return answer
