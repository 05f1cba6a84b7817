"""Try it in the browser: a test call played by the real engine in a sandbox, on the live versions or
the drafts, from the keypad up to the SMS it would send; and the segment counter of the text editors."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store.models import ConsentRecord, DevInboxMessage, SmsOutbox
from tests.support.calls import Call
from tests.support.console import Console, signed_in

ROOT = Path(__file__).resolve().parents[3]
BANK = "+74952223344"
CALLER = "+79161234567"
OFFER = "Не хотите ждать на линии?"
GREETING = "Здравствуйте! Вы позвонили в службу поддержки банка."
CONSENT = "Если вы согласны получить это сообщение, нажмите 1."


class Panel:
    """The panel as a browser drives it: each press posts the form the last answer carried."""

    def __init__(self, console: Console, **settings: str) -> None:
        self.console = console
        self.fields = {
            "caller": CALLER,
            "called": BANK,
            "day": "2026-11-24",
            "time": "12:00",
            "position": "3",
            "avg_wait": "300",
            "version": "live",
            **settings,
        }
        self.page = ""

    def press(self, **button: str) -> str:
        response = self.console.post("/admin/try/", {**self.fields, **button}, headers={"HX-Request": "true"})
        assert response.status_code == 200, response.get_data(as_text=True)[:2000]
        self.page = response.get_data(as_text=True)
        for name in ("script", "typed", "prompt_kind", "prompt_stage", "prompt_digits", "prompt_finish"):
            self.fields[name] = unescape(re.search(rf'name="{name}" value="([^"]*)"', self.page).group(1))
        return self.page

    def call(self) -> str:
        return self.press(action="call")

    def key(self, key: str) -> str:
        return self.press(key=key)

    def section(self, ident: str) -> str:
        found = re.search(
            rf'<div id="{ident}">(.*?)</div>\s*<h3>|<div id="{ident}">(.*?)</section>', self.page, re.S
        )
        assert found, ident
        return unescape(found.group(1) or found.group(2))

    def heard(self) -> str:
        found = re.search(r'<ol id="try-heard" class="heard">(.*?)</ol>', self.page, re.S)
        return unescape(found.group(1)) if found else ""


@pytest.fixture
def editor(app: Any) -> Console:
    return signed_in(app, "editor")


def test_a_test_call_on_the_live_flow_reaches_the_offer_and_with_keys_the_sms(editor: Console) -> None:
    panel = Panel(editor)
    panel.call()
    assert GREETING in panel.heard()
    assert 'id="key-1"' in panel.page and "disabled" not in re.search(
        r'<button[^>]*id="key-1"[^>]*>', panel.page
    ).group(0)
    panel.key("1")
    panel.key("2")
    assert OFFER in panel.section("try-offer")
    assert "ru-bank-support" in panel.page and 'badge live">v1' in panel.page
    panel.key("1")  # accepts the offer: the consent is asked
    assert CONSENT in panel.section("try-consent")
    panel.key("1")  # agrees: the SMS is sent (to the sandbox)
    sms = panel.section("try-sms")
    assert "Example Bank" in sms and "https://voice.example.test/l/" in sms
    assert "UCS-2" in sms and "Segments: 2" in sms
    assert "<mark>" in panel.page
    assert "wording ru-RU/consent-v1" in panel.section("try-consent")
    assert "The call has ended." in panel.page


def test_nothing_of_a_test_call_reaches_the_real_database_or_redis(app: Any, editor: Console) -> None:
    panel = Panel(editor)
    panel.call()
    for key in ("1", "2", "1", "1"):
        panel.key(key)
    assert "Example Bank" in panel.section("try-sms")
    svc = app.extensions["deflect"]
    with svc.database.session() as session:
        for model in (ConsentRecord, SmsOutbox, DevInboxMessage):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model.__tablename__
    keys = [key.decode() for key in svc.redis.keys("*")]
    assert not [key for key in keys if CALLER in key or "deflect:sms:" in key or "deflect:call:" in key], keys


def test_a_draft_greeting_is_heard_on_the_draft_while_real_calls_keep_the_live_one(
    app: Any, client: Any, editor: Console
) -> None:
    flow = (ROOT / "ivr_flows" / "ru_bank_support.yaml").read_text(encoding="utf-8")
    saved = app.extensions["deflect"].content.save_draft(
        "flow", {"ru_bank_support.yaml": flow.replace("службу поддержки банка", "Пример Банк")}, actor="anna"
    )
    assert saved.problems == []

    drafted = Panel(editor, version="draft")
    drafted.call()
    live = Panel(editor)
    live.call()

    assert "Здравствуйте! Вы позвонили в Пример Банк." in drafted.heard()
    assert 'badge draft">draft' in drafted.page and "the draft plays" in drafted.page
    assert GREETING in live.heard() and "Пример Банк" not in live.heard()
    assert "службу поддержки банка" in Call(client).incoming().said()


def test_the_keypad_collects_a_number_until_hash_and_undo_takes_an_input_back(editor: Console) -> None:
    panel = Panel(editor)
    panel.call()
    panel.key("1")
    assert panel.fields["script"] == '["1"]'
    panel.press(action="undo")
    assert panel.fields["script"] == "[]"
    assert "Пожалуйста, выберите тему" in panel.heard()
    panel.press(action="wait", wait_seconds="60")  # not in the queue yet: nothing changes
    assert panel.fields["script"] == "[]"
    panel.press(action="say", speech="Мне по кредиту")
    assert "Соединяю со специалистом по кредитам" in panel.heard()
    assert "you say: Мне по кредиту" in panel.heard()


def test_a_landline_caller_keys_in_a_mobile_number_finished_with_hash(editor: Console) -> None:
    panel = Panel(editor, caller="+74951234567")
    panel.call()
    for key in ("1", "2", "1"):
        panel.key(key)
    assert panel.fields["prompt_stage"] == "number-entry", panel.heard()
    for key in "89161234567":
        panel.key(key)
    assert panel.fields["typed"] == "89161234567" and "Keys pressed so far: 89161234567" in panel.page
    panel.key("#")
    assert panel.fields["typed"] == ""
    assert json.loads(panel.fields["script"])[-1] == "89161234567"
    assert "you press 89161234567" in panel.heard()


def test_waiting_in_the_queue_and_an_agent_answering(editor: Console) -> None:
    panel = Panel(editor, position="1")
    panel.call()
    panel.key("1")
    panel.key("2")
    assert panel.fields["prompt_kind"] == "queue"
    assert "No offer was made" in panel.section("try-offer")
    panel.press(action="wait", wait_seconds="60")
    assert OFFER in panel.section("try-offer")
    panel.press(action="timeout")
    panel.press(action="agent")
    assert "an agent answers" in panel.heard()


def test_a_call_at_night_in_the_flows_time_zone_hears_the_closed_message(editor: Console) -> None:
    panel = Panel(editor, time="23:00")
    panel.call()
    assert "Сейчас операторы не работают" in panel.heard()
    assert "2026-11-24 23:00 MSK" in panel.page


def test_wrong_settings_are_pointed_at_and_nothing_is_played(editor: Console) -> None:
    response = editor.post("/admin/try/", {"caller": "12", "called": BANK, "position": "0", "action": "call"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="try-caller-error"' in page and 'id="try-position-error"' in page
    assert 'id="try-heard"' not in page


def test_the_panel_page_has_its_keypad_and_fields(editor: Console) -> None:
    page = editor.get("/admin/try/").get_data(as_text=True)
    for ident in (
        "key-1",
        "key-0",
        "key-star",
        "key-hash",
        "try-call",
        "try-caller",
        "try-called",
        "try-day",
        "try-time",
        "try-position",
        "try-avg-wait",
        "try-version-draft",
        "try-speech",
        "try-wait",
        "try-agent",
        "try-hangup",
        "try-timeout",
        "try-undo",
    ):
        assert f'id="{ident}"' in page, ident
    assert 'value="+74952223344" selected' not in page or "ru-bank-support" in page
    assert "Try a call" in page
    without_htmx = editor.post("/admin/try/", {**Panel(editor).fields, "action": "call"})
    assert without_htmx.status_code == 200
    whole = without_htmx.get_data(as_text=True)
    assert whole.startswith("<!doctype html>") and GREETING in unescape(whole)


@pytest.mark.parametrize(
    "request_",
    [
        ("get", "/admin/try/"),
        ("post", "/admin/try/"),
        ("post", "/admin/try/segments"),
        ("get", "/admin/try/preview"),
    ],
)
def test_a_viewer_may_not_try_calls(app: Any, request_: tuple[str, str]) -> None:
    viewer = signed_in(app, "viewer")
    method, path = request_
    response = viewer.get(path) if method == "get" else viewer.post(path, {"text": "x", "action": "call"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/admin/try/", "/admin/try/segments"])
def test_a_post_without_the_csrf_token_is_refused(editor: Console, path: str) -> None:
    response = editor.post(path, {**Panel(editor).fields, "action": "call", "text": "x"}, csrf=False)
    assert response.status_code == 400
    assert 'id="try-heard"' not in response.get_data(as_text=True)


def segments(console: Console, text: str) -> str:
    response = console.post("/admin/try/segments", {"text": text}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_counter_marks_what_forces_ucs2_and_counts_70_character_segments(editor: Console) -> None:
    seventy = segments(editor, "д" * 70)
    assert "UCS-2" in seventy and "Segments: 1" in seventy and "Characters: 70" in seventy
    seventy_one = segments(editor, "д" * 71)
    assert "Segments: 2" in seventy_one and "67 per segment" in seventy_one
    assert seventy_one.count("<mark>д</mark>") == 71


def test_the_counter_marks_only_the_characters_that_force_ucs2(editor: Console) -> None:
    mixed = segments(editor, "Your code: 1234 ✓")
    assert "UCS-2" in mixed and mixed.count("<mark>") == 1 and "<mark>✓</mark>" in mixed
    plain = segments(editor, "Your code is 1234 {ok}")
    assert "GSM-7" in plain and "<mark>" not in plain and "Segments: 1" in plain


def test_the_counter_escapes_what_is_typed(editor: Console) -> None:
    page = segments(editor, "<script>alert(1)</script> д")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_preview_shows_the_sms_exactly_as_it_would_be_sent(editor: Console) -> None:
    page = editor.get("/admin/try/preview?locale=ru-RU&name=whatsapp_link&version=live").get_data(
        as_text=True
    )
    body = unescape(re.search(r'<pre class="sms-body" id="preview-body">(.*?)</pre>', page, re.S).group(1))
    assert body.startswith("Example Bank") and "https://voice.example.test/l/" in body
    assert "UCS-2" in page and "Segments:" in page and "v1" in page


def test_the_preview_of_a_missing_draft_says_so(editor: Console) -> None:
    page = editor.get("/admin/try/preview?locale=ru-RU&name=whatsapp_link&version=draft").get_data(
        as_text=True
    )
    assert "have no draft" in unescape(page)


def test_segments_js_is_served_from_the_console(editor: Console) -> None:
    response = editor.get("/admin/static/segments.js")
    assert response.status_code == 200
    assert "textarea[data-segments]" in response.get_data(as_text=True)


def test_an_sms_template_is_counted_as_it_would_be_sent(editor: Console) -> None:
    template = "{{ brand }}: номер {{ reference }}\n{{ link }}"
    response = editor.post(
        "/admin/try/segments", {"text": template, "locale": "ru-RU"}, headers={"HX-Request": "true"}
    )
    page = unescape(re.sub(r"</?mark>", "", response.get_data(as_text=True)))
    assert "Example Bank: номер K7XAMN" in page and "{{" not in page  # the sample values, not the syntax
    assert "Counted as it would be sent" in page
    broken = editor.post(
        "/admin/try/segments", {"text": "{{ brand ", "locale": "ru-RU"}, headers={"HX-Request": "true"}
    )
    assert "line 1" in unescape(broken.get_data(as_text=True))


def test_a_test_call_is_not_counted_as_the_lines_traffic(
    app: Any, base_config: dict[str, Any], clock: Any
) -> None:
    # Under gunicorn every process's counts are summed from shared files, whatever app counted them:
    # a sandbox must not count at all (no timed webhooks, no events, no fallbacks), not merely count
    # in a registry of its own.
    from gateway.app import build_app
    from gateway.events import Event
    from gateway.settings import load_settings

    sandbox = build_app(load_settings(base_config, environ={}), clock, console=False)
    try:
        metrics = sandbox.extensions["deflect"].metrics
        assert metrics.counting is False
        metrics.observe_events([Event("offer.accepted", {})])
        assert "deflect_offers_total" not in str(list(metrics.registry.collect()))
        assert not any(
            "metrics" in getattr(f, "__module__", "") for f in sandbox.before_request_funcs.get(None, [])
        )
        assert app.extensions["deflect"].metrics.counting is True  # the console's own app counts
    finally:
        sandbox.extensions["deflect"].close()
