"""The context card pages (`/card/<token>` and `/card/<token>.json`): thin handlers over
`gateway.handoff.card`. The signed link is the agent's only key, so the pages are private: not cached,
not indexed, no Referer; a bad link is a 404, an old one a 410, a database failure a 503, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from gateway.handoff.card import ContextCard, check_card_token, default_time_zone, load_card
from gateway.locales import PAGE_LANGUAGES, label_language
from gateway.web.context import services
from gateway.web.pages import PRIVATE_HEADERS, make_private

log = logging.getLogger(__name__)
bp = Blueprint("card", __name__, template_folder="templates")

CARD_HEADERS = {
    **PRIVATE_HEADERS,
    # No scripts, no external assets; framing stays allowed (desks show the card in a side panel).
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'",
}
_ERRORS: dict[str, tuple[str, int]] = {
    "invalid": ("card/unknown.html", 404),
    "missing": ("card/unknown.html", 404),
    "expired": ("card/expired.html", 410),
}


class _Unavailable(Exception):
    """The card could not be read now (database down); the agent should try again shortly."""


@bp.get("/card/<token>.json")
def card_json(token: str) -> Any:
    """The card as JSON, for desks that render it themselves."""
    outcome, card = _card(token)
    if card is None:
        return jsonify(error=outcome), _ERRORS[outcome][1]
    return jsonify(card.to_json())


@bp.get("/card/<token>")
def card_page(token: str) -> Any:
    """The card as a page, in the call's language."""
    outcome, card = _card(token)
    if card is None:
        template, status = _ERRORS[outcome]
        return render_template(template, lang=_browser_language(), brand=_brand()), status
    return render_template(
        "card/card.html", card=card, t=LABELS[card.language], lang=card.language, brand=_brand()
    )


def _card(token: str) -> tuple[str, ContextCard | None]:
    """("ok", card), or the reason there is none: invalid, expired, missing."""
    svc = services()
    settings = svc.settings
    state, ref = check_card_token(
        settings.secret_key, token, settings.deflect_card_hours * 3600, svc.clock.time()
    )
    if ref is None:
        return state, None
    with svc.database.session() as session:
        card = load_card(session, ref, time_zone_for=_time_zone, fallback_language=_browser_language())
    return ("ok", card) if card is not None else ("missing", None)


def _time_zone(flow_id: str | None, locale: str | None) -> str:
    """The contact centre's zone from the flow's opening hours, else the locale's usual one."""
    try:
        flow = services().registry.flows().get(flow_id) if flow_id else None
        if flow is not None and flow.hours is not None:
            return str(flow.hours.timezone)
    except Exception:  # a retired flow, or no registry: the locale's zone is good enough
        pass
    return default_time_zone(locale)


def _unavailable() -> Any:
    headers = {"Retry-After": "60"}
    if request.path.endswith(".json"):
        return jsonify(error="unavailable"), 503, headers
    return render_template("card/unavailable.html", lang=_browser_language(), brand=_brand()), 503, headers


def _brand() -> str:
    try:
        return str(services().settings.deflect_brand)
    except Exception:  # the error page must render even when the app is half broken
        return ""


def _browser_language() -> str:
    """For pages without a call (errors, unmatched chats): the agent's Accept-Language."""
    best = request.accept_languages.best_match(PAGE_LANGUAGES, default="en") or "en"
    return label_language(best)


LABELS: dict[str, dict[str, Any]] = {
    "ru": {
        "title": "Карточка звонка",
        "title_unmatched": "Чат без звонка",
        "unmatched_note": "Этот чат не удалось связать со звонком: спросите клиента, чем помочь.",
        "reference": "Номер обращения",
        "channel": "Канал",
        "called_at": "Звонок",
        "queue": "Очередь",
        "menu": "Выбор в меню",
        "waited": "Ждал(а) на линии",
        "minutes": "мин",
        "position": "Место в очереди",
        "language": "Язык",
        "consent": "Согласие на сообщение",
        "consent_yes": "да",
        "consent_key": "клавиша",
        "consent_none": "нет записи",
        "match": "Как найден звонок",
        "number": "Номер",
        "none": "—",
        "channels": {"whatsapp": "WhatsApp", "sms": "SMS", "telegram": "Telegram", "viber": "Viber"},
        "languages": {"ru": "русский", "en": "английский"},
        "matches": {
            "link": "по ссылке из SMS",
            "reference": "по номеру обращения",
            "number": "по номеру телефона",
            "sender": "по прошлому сообщению этого чата",
            "unmatched": "не найден",
            "expired": "обращение устарело",
        },
        "flags": {
            "reference_from_other_number": "номер обращения прислан с другого телефона",
            "reference_without_number": "номер обращения прислан из чата без номера телефона",
            "reference_expired": "срок обращения истёк",
            "link_expired": "ссылка из SMS устарела",
            "too_many_failed_lookups": "слишком много неверных номеров обращения: чат не сопоставлялся",
        },
    },
    "en": {
        "title": "Call card",
        "title_unmatched": "Chat without a call",
        "unmatched_note": "This chat could not be tied to a call: ask the customer how you can help.",
        "reference": "Reference",
        "channel": "Channel",
        "called_at": "Called",
        "queue": "Queue",
        "menu": "Menu choices",
        "waited": "Waited on hold",
        "minutes": "min",
        "position": "Position in queue",
        "language": "Language",
        "consent": "Consent to message",
        "consent_yes": "yes",
        "consent_key": "key",
        "consent_none": "no record",
        "match": "How the call was found",
        "number": "Number",
        "none": "—",
        "channels": {"whatsapp": "WhatsApp", "sms": "SMS", "telegram": "Telegram", "viber": "Viber"},
        "languages": {"ru": "Russian", "en": "English"},
        "matches": {
            "link": "by the link in the SMS",
            "reference": "by reference",
            "number": "by phone number",
            "sender": "by this chat's earlier message",
            "unmatched": "not found",
            "expired": "reference expired",
        },
        "flags": {
            "reference_from_other_number": "reference sent from another phone",
            "reference_without_number": "a reference sent from a chat without a phone number",
            "reference_expired": "the reference has expired",
            "link_expired": "the link in the SMS has expired",
            "too_many_failed_lookups": "too many wrong references from this sender: not matched",
        },
    },
}


make_private(bp, "context card", _unavailable, CARD_HEADERS)
