"""Viber's webhook: check the callback's signature, read the event, let the inbound chat domain match
and hand it off, and answer `conversation_started` with the acknowledgement as Viber's welcome message.

- A customer who taps our `viber://pa?...&context=<link token>` link makes Viber send
  `conversation_started` with that context: it is matched by the session's link token, and
  the domain's one-time acknowledgement is returned in the response, which Viber shows as the welcome
  message (the only message a bot may send before the customer writes or subscribes).
- `message` events are received with their text, and answered `{}`: a reply to them would need Viber's
  `send_message` API, which this gateway does not call (yet); the agents answer from their desk.
- Other events (`webhook`, `subscribed`, `delivered`, `seen`, ...) are answered 200 `{}`.

The message id is `viber:<message_token>`, so Viber's resending of a callback is a duplicate for the
domain. That is also why a failure inside the domain is answered 503 and not 200: Viber sends the
callback again, and whatever part was already stored is recognised instead of repeated.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, jsonify, request

from gateway.handoff import inbound
from gateway.handoff.viber import SIGNATURE_HEADER, ViberEvent, parse_event, verify_signature
from gateway.web.context import services

log = logging.getLogger(__name__)
bp = Blueprint("viber", __name__, url_prefix="/viber")

MAX_SENDER_NAME = 28  # Viber refuses a longer sender name
MAX_TEXT = 7000  # Viber's limit for a text message


@bp.post("/webhook")
def webhook() -> Response:
    settings = services().settings
    auth_token = getattr(settings, "deflect_viber_auth_token", None)
    if not auth_token:
        abort(404)  # Viber is not configured on this gateway
    if not verify_signature(auth_token, request.get_data(cache=True), request.headers.get(SIGNATURE_HEADER)):
        log.warning("Viber callback refused: missing or wrong %s", SIGNATURE_HEADER)
        abort(403)
    data = request.get_json(force=True, silent=True)  # signed by Viber: whatever its Content-Type
    if not isinstance(data, dict):
        abort(400)
    event = parse_event(data)
    if event is None or (event.event == "conversation_started" and event.context is None):
        # Not a chat, or the bot opened without our link: there is nothing to match or hand off.
        return jsonify({})
    try:
        result = _receive(event)
    except Exception:
        log.exception("Viber %s %d not handled; Viber will send it again", event.event, event.message_token)
        return Response('{"error": "try again"}\n', status=503, mimetype="application/json")
    if event.event == "conversation_started" and result.reply:
        return jsonify(_welcome(settings.deflect_brand, result.reply))
    return jsonify({})


def _receive(event: ViberEvent) -> inbound.InboundResult:
    """The domain's decision for one Viber event: the link's context (the session's link token) is
    what `conversation_started` matches, and is not kept as text; a message is matched by its text."""
    started = event.event == "conversation_started"
    chat = inbound.InboundChat(
        message_id=f"viber:{event.message_token}",
        channel="viber",
        sender=f"viber:{event.user_id}",
        body="" if started else event.text,
        profile_name=event.user_name,
        media=event.media,
        link_token=event.context if started else None,
    )
    return services().inbound.receive(chat, services().clock.now())


def _welcome(brand: str, text: str) -> dict[str, object]:
    """The welcome message, in the shape of Viber's send_message body."""
    return {"sender": {"name": brand[:MAX_SENDER_NAME]}, "type": "text", "text": text[:MAX_TEXT]}
