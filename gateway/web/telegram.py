"""Telegram's webhook: check the secret token set with setWebhook, read the Update, let the inbound
chat domain match and hand it off, and send its acknowledgement back through the Bot API.

Telegram retries any update not answered with 2xx, so a handled update always gets 200 `{}`; a repeat
is recognised by the domain (the message id is `tg:<update_id>`) and gets no second reply.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, jsonify, request

from gateway.handoff import inbound
from gateway.handoff.telegram import TelegramBot, TelegramError, TelegramMessage, parse_update, start_payload
from gateway.web.context import services

log = logging.getLogger(__name__)
bp = Blueprint("telegram", __name__, url_prefix="/telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@bp.post("/webhook")
def webhook() -> Response:
    settings = services().settings
    secret = settings.deflect_telegram_secret
    if not secret:
        abort(404)  # Telegram is not configured on this gateway
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        log.warning("Telegram update refused: missing or wrong secret token")
        abort(403)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    message = parse_update(data)
    if message is None:
        return _handled()  # not a private chat message: nothing to do, and nothing to retry
    result = _receive(message)
    if result.reply and settings.deflect_telegram_bot_token:
        bot = TelegramBot(settings.deflect_telegram_bot_token, settings.deflect_telegram_api_base_url)
        try:
            bot.send_message(message.chat_id, result.reply)
        except TelegramError as exc:
            # The chat is stored and handed off already; a retried update would be a duplicate.
            log.warning("Telegram reply to update %d not sent: %s", message.update_id, exc)
    return _handled()


def _receive(message: TelegramMessage) -> inbound.InboundResult:
    """The domain's decision for one Telegram message: the deep link's payload (the session's link
    token) is what `/start` matches; it is not kept as the message's text, being the SMS link's key."""
    payload = start_payload(message.text)
    chat = inbound.InboundChat(
        message_id=f"tg:{message.update_id}",
        channel="telegram",
        sender=f"tg:{message.chat_id}",
        body="/start" if payload else message.text,
        profile_name=message.first_name,
        link_token=payload,
    )
    return services().inbound.receive(chat, services().clock.now())


def _handled() -> Response:
    return jsonify({})
