"""An admin changes a flow in the browser: a draft with an error is flagged at its line, fixed,
published (a signed call then hears it), and rolled back (the old greeting returns). Each role is
refused what it may not do, and a form posted without its CSRF token changes nothing."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, sign_in
from tests.support.calls import Call

OLD = "Thank you for calling customer support."
NEW = "Welcome to the new support line."


def greeting(app: Any) -> str:
    """What a new caller hears first, through Twilio's signed webhook on the same gateway."""
    app.extensions["deflect"].registry.refresh()  # as every process does within its check interval
    return Call(app.test_client(), caller="+12125550147", called="+14155550123").incoming().said()


def editor_text(page: Any) -> str:
    return str(page.locator("textarea[name='file:en_support.yaml']").input_value())


def test_draft_error_fix_publish_and_rollback(page: Any, app: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())  # the "make v1 live?" confirmation
    sign_in(page, app, "publisher")
    assert OLD in greeting(app)

    page.goto("/admin/content/")
    screenshot(page, "flows-list")
    page.locator("#item-flow-en-support a").first.click()
    page.locator("#tab-edit").click()
    broken = editor_text(page).replace(OLD, NEW).replace("next: check_hours", "next: check_hourz", 1)
    page.locator("textarea[name='file:en_support.yaml']").fill(broken)
    page.locator("#save-draft").click()
    problems = page.locator("#problems")
    assert "check_hourz" in problems.inner_text()
    # file, line and step
    assert re.search(r"en_support\.yaml:\d+: step 'greeting'", problems.inner_text()), problems.inner_text()
    assert editor_text(page) == broken  # nothing the admin typed is lost
    screenshot(page, "flow-editor-error")
    assert OLD in greeting(app)  # a draft is not live

    page.locator("textarea[name='file:en_support.yaml']").fill(broken.replace("check_hourz", "check_hours"))
    page.locator("#save-draft").click()
    assert "check_hourz" not in page.locator("#problems").inner_text()
    page.locator("#tab-diff").click()
    assert NEW in page.locator("#diff").inner_text()
    screenshot(page, "flow-diff")
    page.locator("#tab-diagram").click()
    assert page.locator("#flow-diagram #step-greeting").count() == 1
    screenshot(page, "flow-diagram")

    page.locator("#tab-item").click()
    page.locator("#publish-comment").fill("a warmer greeting")
    page.locator("#publish").click()
    assert page.locator("#history").get_by_text("a warmer greeting").is_visible()
    screenshot(page, "flow-item-published")
    assert NEW in greeting(app)

    token = (
        page.locator("#rollback-1")
        .locator("xpath=..")
        .locator("input[name=csrf_token]")
        .get_attribute("value")
    )
    page.locator("#rollback-1").click()
    page.wait_for_load_state()
    assert OLD in greeting(app)
    assert page.locator("#rollback-1").count() == 0  # v1 is live: nothing to roll back to there
    screenshot(page, "flow-item-rolled-back")
    # The same rollback again (a double submit, a second tab): it names its target, so v1 stays live.
    again = page.request.post(
        "/admin/content/flow/en-support/rollback", form={"csrf_token": token, "version": "1"}
    )
    assert again.ok
    assert OLD in greeting(app)
    page.reload()
    assert page.locator("#rollback-2").is_visible()  # v2 is kept, and can be made live again


def test_each_role_is_refused_what_it_may_not_do(browser: Any, live: Any, app: Any) -> None:
    def console_as(role: str) -> Any:
        page = browser.new_context(base_url=live.url).new_page()
        sign_in(page, app, role)
        return page

    viewer = console_as("viewer")
    viewer.goto("/admin/content/flow/en-support")
    assert viewer.locator("#publish").count() == 0
    assert viewer.goto("/admin/content/flow/en-support/edit").status == 403
    assert "does not allow" in viewer.locator("main").inner_text()
    screenshot(viewer, "refused-viewer-editor")

    editor = console_as("editor")
    editor.goto("/admin/content/flow/en-support")
    assert editor.locator("#publish").count() == 0 and editor.locator("#rollback-1").count() == 0
    token = editor.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = editor.request.post(
        "/admin/content/flow/en-support/publish", form={"csrf_token": token, "comment": "sneaky"}
    )
    assert refused.status == 403

    agent = console_as("agent")
    assert agent.goto("/admin/content/flow/en-support/edit").status == 403

    publisher = console_as("publisher")
    publisher.goto("/admin/content/flow/en-support/edit")
    text = publisher.locator("textarea[name='file:en_support.yaml']").input_value()
    no_token = publisher.request.post(
        "/admin/content/flow/en-support/edit", form={"file:en_support.yaml": text.replace(OLD, NEW)}
    )
    assert no_token.status == 400
    assert app.extensions["deflect"].content.store.draft("flow", "en-support") is None  # nothing saved
    for page in (viewer, editor, agent, publisher):
        page.context.close()


BANK_GREETING = "Здравствуйте! Вы позвонили в службу поддержки банка."
DRAFT_GREETING = "Добрый день! Это новая линия поддержки банка."


def test_a_test_call_on_the_draft_up_to_the_sms(page: Any, app: Any) -> None:
    sign_in(page, app, "editor")
    page.goto("/admin/content/flow/ru-bank-support/edit")
    textarea = page.locator("textarea[name='file:ru_bank_support.yaml']")
    textarea.fill(textarea.input_value().replace(BANK_GREETING, DRAFT_GREETING))
    page.locator("#save-draft").click()
    assert "Problems" in page.locator("#problems").inner_text()
    assert page.locator("#problems .problems").count() == 0

    page.goto("/admin/try/")
    page.locator("#try-caller").fill("+79161234567")
    page.locator("#try-called").select_option("+74952223344")
    page.locator("#try-day").fill("2026-11-24")  # a Tuesday, at noon: the line is open
    page.locator("#try-time").fill("12:00")
    page.locator("#try-version-draft").check()
    page.locator("#try-call").click()
    heard = page.locator("#try-heard")
    heard.get_by_text(DRAFT_GREETING).wait_for()
    steps = (
        ("1", "#try-heard", ""),  # the main menu's first choice, then its sub-menu's second
        ("2", "#try-offer", "Не хотите ждать на линии?"),  # in the queue: the offer
        ("1", "#try-consent", "нажмите 1"),  # accepted: the consent is asked
        ("1", "#try-sms", "Segments"),  # agreed: the SMS, as it would be sent
    )
    for key, where, text in steps:
        script = page.locator("input[name=script]")
        before = script.input_value()
        page.locator(f"#key-{key}").click()
        expect(script).not_to_have_value(before)  # the panel answered this press
        expect(page.locator(where)).to_contain_text(text)
    sms = page.locator("#try-sms").inner_text()
    assert "UCS-2" in sms and "Segments: 2" in sms
    assert "/l/" in sms  # the link the SMS would carry, in the sandbox only
    screenshot(page, "try-panel-sms")
    assert BANK_GREETING in greeting_of_bank(app)  # real callers still hear the live version
    outbox = app.extensions["deflect"].database
    from sqlalchemy import func, select

    from gateway.store.models import ConsentRecord, SmsOutbox

    with outbox.session() as session:  # nothing of the test call reached the real ledger or outbox
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 0
        assert session.scalar(select(func.count()).select_from(SmsOutbox)) == 0


def greeting_of_bank(app: Any) -> str:
    app.extensions["deflect"].registry.refresh()
    return Call(app.test_client()).incoming().said()


def test_the_sms_counter_follows_the_admins_typing(page: Any, app: Any) -> None:
    sign_in(page, app, "editor")
    page.goto("/admin/content/sms/ru-RU/edit")
    textarea = page.locator("textarea[name$='chat_ack.txt']")
    counter = page.locator(f"#{textarea.get_attribute('id')}-segments")
    textarea.fill("Hello, your chat is open.")
    expect(counter).to_contain_text("GSM-7")
    textarea.fill("Здравствуйте! " * 6)  # 84 characters of Cyrillic: UCS-2, two segments
    expect(counter).to_contain_text("UCS-2")
    expect(counter).to_contain_text("Segments: 2")
    assert counter.locator("mark").count() > 0  # the characters that force UCS-2, marked
    screenshot(page, "sms-editor-counter")
