"""The short link from the SMS: it opens the chat (or offers the channels), notes the click once,
and never shows personal data or a 500, whatever the token or the database does."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import event, func, select

from gateway.deflection.chats import open_chat
from gateway.deflection.consent import ConsentGiven, record_consent
from gateway.store.models import CallEvent, Chat, ConsentRecord

CALL_SID = "CA" + "1" * 32
NUMBER = "+79161234567"
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


@pytest.fixture
def links_app(app: Any) -> Any:
    return app


@pytest.fixture
def web(links_app: Any) -> Any:
    return links_app.test_client()


def _session(
    app: Any,
    channels: list[str],
    *,
    locale: str = "ru-RU",
    created: datetime | None = None,
    lifetime: timedelta = timedelta(hours=24),
    state: str | None = None,
) -> Chat:
    with app.extensions["deflect"].database.session() as session:
        consent = record_consent(session, _consent(session), app.extensions["deflect"].clock.now())
        row = open_chat(
            session,
            call_sid=CALL_SID,
            number=NUMBER,
            flow_id="bank-ru",
            flow_version=1,
            locale=locale,
            queue="cards",
            context={},
            channels=channels,
            consent_id=consent.id,
            now=created or app.extensions["deflect"].clock.now(),
            lifetime=lifetime,
        )
        if state:
            row.state = state
    return row


def _consent(session: Any) -> ConsentGiven:
    """The consent a session is opened on (the ledger's offer keys are unique)."""
    offer = session.scalar(select(func.count(ConsentRecord.id))) + 1
    return ConsentGiven(
        offer_key=f"{CALL_SID}:{offer}",
        number=NUMBER,
        call_sid=CALL_SID,
        flow_id="bank-ru",
        flow_version=1,
        prompt_version="ru-consent-v1",
        prompt_text="Согласны?",
        channel="sms",
        key_pressed="1",
    )


def _reload(app: Any, row: Chat) -> Chat:
    with app.extensions["deflect"].database.session() as session:
        fresh = session.get(Chat, row.id)
        assert fresh is not None
        return fresh


def _events(app: Any, kind: str) -> list[dict[str, Any]]:
    with app.extensions["deflect"].database.session() as session:
        query = select(CallEvent).where(CallEvent.call_sid == CALL_SID, CallEvent.kind == kind)
        return [e.data for e in session.scalars(query.order_by(CallEvent.id))]


def _assert_private(response: Any) -> None:
    for name, value in PRIVATE_HEADERS.items():
        assert response.headers[name] == value


def test_one_channel_redirects_to_whatsapp_with_the_reference_prefilled(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp"])
    before = links_app.extensions["deflect"].clock.now()

    response = web.get(f"/l/{row.link_token}")

    assert response.status_code == 302
    _assert_private(response)
    target = urlsplit(response.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "wa.me", "/77001234567")
    text = parse_qs(target.query)["text"][0]
    assert text.endswith(row.reference)
    assert "Example Bank" in text
    clicked = _reload(links_app, row)
    assert clicked.state == "link_clicked"
    assert clicked.clicked_at is not None and clicked.clicked_at >= before
    assert _events(links_app, "link.clicked") == [{"channel": "whatsapp", "first": True}]


def test_second_click_is_not_counted_again_and_keeps_the_first_click_time(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp"])
    web.get(f"/l/{row.link_token}")
    first_time = _reload(links_app, row).clicked_at

    response = web.get(f"/l/{row.link_token}")

    assert response.status_code == 302
    again = _reload(links_app, row)
    assert again.clicked_at == first_time
    assert again.state == "link_clicked"
    assert _events(links_app, "link.clicked") == [{"channel": "whatsapp", "first": True}]


@pytest.mark.parametrize("channels", [["whatsapp"], ["whatsapp", "telegram"]])
def test_later_visits_to_a_clicked_link_write_nothing(links_app: Any, web: Any, channels: list[str]) -> None:
    row = _session(links_app, channels)
    web.get(f"/l/{row.link_token}")
    web.get(f"/l/{row.link_token}/whatsapp")

    with _writes(links_app) as writes:
        for _ in range(5):
            assert web.get(f"/l/{row.link_token}").status_code in (200, 302)
            assert web.get(f"/l/{row.link_token}/whatsapp").status_code == 302

    assert writes == []
    assert len(_events(links_app, "link.clicked")) == 1
    assert _events(links_app, "link.channel_chosen") == [{"channel": "whatsapp"}]


def test_each_channel_chosen_is_noted_once(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp", "telegram"])
    web.get(f"/l/{row.link_token}")

    for channel in ("whatsapp", "whatsapp", "telegram", "whatsapp", "telegram"):
        assert web.get(f"/l/{row.link_token}/{channel}").status_code == 302

    assert _events(links_app, "link.channel_chosen") == [{"channel": "whatsapp"}, {"channel": "telegram"}]


@contextmanager
def _writes(app: Any) -> Iterator[list[str]]:
    """The INSERT, UPDATE and DELETE statements the app sends to its database meanwhile."""
    engine = app.extensions["deflect"].database.engine
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_click_after_the_chat_started_does_not_move_the_session_back(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp"], state="chat_started")

    assert web.get(f"/l/{row.link_token}").status_code == 302

    assert _reload(links_app, row).state == "chat_started"


def test_link_still_opens_the_chat_after_it_was_handed_to_an_agent(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp"], state="handed_off")

    assert web.get(f"/l/{row.link_token}").status_code == 302  # back to the chat, not "expired"

    assert _reload(links_app, row).state == "handed_off"


def test_several_channels_get_a_page_with_whatsapp_first_and_the_reference(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["telegram", "whatsapp"])

    response = web.get(f"/l/{row.link_token}")

    assert response.status_code == 200
    _assert_private(response)
    html = response.get_data(as_text=True)
    whatsapp = html.index(f'href="/l/{row.link_token}/whatsapp"')
    telegram = html.index(f'href="/l/{row.link_token}/telegram"')
    assert whatsapp < telegram
    assert row.reference in html
    assert "Example Bank" in html
    assert "Продолжите" in html  # a ru-RU session gets Russian
    assert NUMBER not in html and NUMBER[1:] not in html and "1234567" not in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert _reload(links_app, row).state == "link_clicked"
    assert _events(links_app, "link.clicked") == [{"channel": None, "first": True}]


def test_english_session_gets_an_english_page(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp", "telegram"], locale="en-GB")

    html = web.get(f"/l/{row.link_token}").get_data(as_text=True)

    assert '<html lang="en">' in html and "Continue your call in a chat" in html


def test_channel_button_redirects_to_telegram_with_the_link_token(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp", "telegram"])
    web.get(f"/l/{row.link_token}")

    response = web.get(f"/l/{row.link_token}/telegram")

    assert response.status_code == 302
    _assert_private(response)
    assert response.headers["Location"] == f"https://t.me/ExampleBankBot?start={row.link_token}"
    assert _events(links_app, "link.channel_chosen") == [{"channel": "telegram"}]
    assert [e["first"] for e in _events(links_app, "link.clicked")] == [True]


def test_channel_button_without_the_page_still_notes_the_first_click(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp", "telegram"])

    response = web.get(f"/l/{row.link_token}/whatsapp")

    assert response.status_code == 302
    assert unquote(response.headers["Location"]).endswith(row.reference)
    assert _reload(links_app, row).state == "link_clicked"
    assert _events(links_app, "link.clicked") == [{"channel": "whatsapp", "first": True}]


@pytest.mark.parametrize("channel", ["viber", "sms", "WhatsApp"])
def test_channel_not_offered_is_not_found(links_app: Any, web: Any, channel: str) -> None:
    row = _session(links_app, ["whatsapp", "telegram"])

    response = web.get(f"/l/{row.link_token}/{channel}")

    assert response.status_code == 404
    _assert_private(response)
    assert "Ссылка недействительна" in response.get_data(as_text=True)
    assert _events(links_app, "link.channel_chosen") == []


@pytest.mark.parametrize("path", ["", "/whatsapp"])
def test_expired_link_says_so_without_personal_data(links_app: Any, web: Any, path: str) -> None:
    row = _session(
        links_app,
        ["whatsapp"],
        created=links_app.extensions["deflect"].clock.now() - timedelta(days=2),
        lifetime=timedelta(hours=1),
    )

    response = web.get(f"/l/{row.link_token}{path}")

    assert response.status_code == 410
    _assert_private(response)
    html = response.get_data(as_text=True)
    assert "Ссылка устарела" in html and "Позвоните нам" in html
    assert row.reference not in html and "1234567" not in html
    assert _reload(links_app, row).clicked_at is None
    assert _events(links_app, "link.clicked") == []


def test_closed_session_link_has_expired(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp"], state="closed")

    assert web.get(f"/l/{row.link_token}").status_code == 410


def test_unknown_token_is_not_found_in_the_browser_language(web: Any) -> None:
    token = "A" * 22

    russian = web.get(f"/l/{token}", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})
    english = web.get(f"/l/{token}", headers={"Accept-Language": "en-US,en;q=0.9"})

    assert russian.status_code == english.status_code == 404
    _assert_private(russian)
    assert "Ссылка недействительна" in russian.get_data(as_text=True)
    assert "This link is not valid" in english.get_data(as_text=True)


@pytest.mark.parametrize(
    "token", ["short", "A" * 65, "abc.def.ghi.jkl.mno", "AAAAAAAAAAAAAAAA%20", "ßßßßßßßßßßßßßßßßßß"]
)
def test_malformed_token_is_refused_without_asking_the_database(make_app: Any, token: str) -> None:
    down = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")

    response = down.test_client().get(f"/l/{token}")

    assert response.status_code == 404
    _assert_private(response)
    assert "This link is not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/l/" + "A" * 22, "/l/" + "A" * 22 + "/whatsapp"])
def test_database_down_gives_a_try_again_page(
    make_app: Any, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    down = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")

    with caplog.at_level(logging.WARNING, logger="gateway.web.links"):
        response = down.test_client().get(path, headers={"Accept-Language": "en"})

    assert response.status_code == 503
    _assert_private(response)
    assert response.headers["Retry-After"] == "60"
    assert "try again in a minute" in response.get_data(as_text=True)
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


def test_a_bug_still_gives_the_try_again_page_not_a_500(links_app: Any, web: Any) -> None:
    row = _session(links_app, ["whatsapp"])
    links_app.extensions["deflect"].accounts = None  # a wiring mistake

    response = web.get(f"/l/{row.link_token}")

    assert response.status_code == 503
    _assert_private(response)


@pytest.mark.parametrize(
    ("method", "agent"),
    [
        ("GET", "WhatsApp/2.23.20.0 A"),
        ("GET", "TelegramBot (like TwitterBot)"),
        ("GET", "facebookexternalhit/1.1"),
        ("HEAD", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"),
    ],
)
def test_link_previews_are_not_clicks(links_app: Any, web: Any, method: str, agent: str) -> None:
    row = _session(links_app, ["whatsapp"])

    response = web.open(f"/l/{row.link_token}", method=method, headers={"User-Agent": agent})

    assert response.status_code == 302  # the preview still sees where the link goes
    assert _reload(links_app, row).state == "created"
    assert _reload(links_app, row).clicked_at is None
    assert _events(links_app, "link.clicked") == []


class _PageParts(HTMLParser):
    """The inline <style> blocks, scripts and style attributes of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.styles: list[str] = []
        self.scripts = 0
        self.style_attributes = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.style_attributes += any(name == "style" for name, _ in attrs)
        if tag == "style":
            self._in_style = True
            self.styles.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = self._in_style and tag != "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles[-1] += data


def _policy(response: Any) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {parts[0]: parts[1:] for parts in (d.split() for d in header.split(";") if d.strip())}


@pytest.mark.parametrize(
    ("page", "status"),
    [("choose", 200), ("redirect", 302), ("expired", 410), ("unknown", 404), ("unavailable", 503)],
)
def test_link_pages_run_under_a_strict_content_security_policy(
    links_app: Any, make_app: Any, page: str, status: int
) -> None:
    if page == "unavailable":
        web = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none").test_client()
        path = "/l/" + "A" * 22
    else:
        web = links_app.test_client()
        token = "A" * 22
        if page != "unknown":
            row = _session(
                links_app,
                ["whatsapp", "telegram"] if page == "choose" else ["whatsapp"],
                lifetime=timedelta(hours=1 if page != "expired" else -1),
            )
            token = row.link_token
        path = f"/l/{token}"

    response = web.get(path)

    assert response.status_code == status
    policy = _policy(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "script-src" not in policy and "'unsafe-inline'" not in " ".join(sum(policy.values(), []))
    if status == 302:
        return
    parts = _PageParts()
    parts.feed(response.get_data(as_text=True))
    assert parts.scripts == 0 and parts.style_attributes == 0
    assert parts.styles  # the page is styled, and each block is allowed by its hash
    for block in parts.styles:
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["style-src"]
