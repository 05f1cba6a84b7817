"""Our short link from the SMS (``/l/<token>``): a redirect into the messenger, or a page with one
button per channel. Thin handlers over `gateway.deflection.clicks`.

The customer never sees a 500: an unknown link is a 404 page, an expired one a 410 page, a database
failure a 503 "try again in a minute" page. Pages carry no personal data beyond the reference, are
not cached, not indexed, send no Referer (the token is in the URL), and run under a strict
Content-Security-Policy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, redirect, render_template, request

from gateway.deflection.clicks import LinkOutcome, choose_channel, is_link_preview, open_link
from gateway.locales import PAGE_LANGUAGES, label_language
from gateway.web.context import services
from gateway.web.pages import PRIVATE_HEADERS, make_private, strict_policy

log = logging.getLogger(__name__)
bp = Blueprint("links", __name__, template_folder="templates")

# The pages carry the customer's reference behind a bearer link: no script, nothing external, no
# framing; the only style is the inline block of links/base.html, allowed by its hash.
LINK_HEADERS = {
    **PRIVATE_HEADERS,
    "Content-Security-Policy": strict_policy(*(Path(__file__).parent / "templates" / "links").glob("*.html")),
}

_PAGES: dict[str, tuple[str, int]] = {
    "unknown": ("links/unknown.html", 404),
    "unknown_channel": ("links/unknown.html", 404),
    "expired": ("links/expired.html", 410),
}


@bp.get("/l/<token>")
def open_short_link(token: str) -> Any:
    """The link in the SMS."""
    svc = services()
    return _render(open_link(svc.database, token, svc.clock.now(), **_visit()), token)


@bp.get("/l/<token>/<channel>")
def open_channel(token: str, channel: str) -> Any:
    """A button on the channel page."""
    svc = services()
    return _render(choose_channel(svc.database, token, channel, svc.clock.now(), **_visit()), token)


def _visit() -> dict[str, Any]:
    """What a visit needs besides the link: the messengers, the brand, where its events go, and
    whether it is a person (a link preview fetched by a messenger is not a click)."""
    svc = services()
    return {
        "accounts": svc.accounts,
        "brand": svc.settings.deflect_brand,
        "recorder": svc.call_log,
        "counted": not is_link_preview(request.method, request.headers.get("User-Agent", "")),
    }


def _render(outcome: LinkOutcome, token: str) -> Any:
    if outcome.kind == "redirect" and outcome.location:
        return redirect(outcome.location, code=302)
    lang = _language(outcome.locale)
    if outcome.kind == "choose":
        return render_template(
            "links/choose.html",
            lang=lang,
            brand=_brand(),
            reference=outcome.reference,
            channels=outcome.channels,
            token=token,
        )
    template, status = _PAGES.get(outcome.kind, _PAGES["unknown"])
    return render_template(template, lang=lang, brand=_brand()), status


def _unavailable() -> Any:
    page = render_template("links/unavailable.html", lang=_language(None), brand=_brand())
    return page, 503, {"Retry-After": "60"}


def _brand() -> str:
    try:
        return str(services().settings.deflect_brand)
    except Exception:  # the error page must render even when the app is half broken
        return ""


def _language(locale: str | None) -> str:
    """The session's language (ru-* is Russian, anything else English); without a session, the
    browser's Accept-Language."""
    if locale:
        return label_language(locale)
    return request.accept_languages.best_match(PAGE_LANGUAGES, default="en") or "en"


make_private(bp, "short link", _unavailable, LINK_HEADERS)
