"""Signing in to the console in a real browser, and what a browser does with its protections."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import screenshot, sign_in


def test_an_admin_signs_in_sees_the_front_page_and_signs_out(page: Any, app: Any) -> None:
    page.goto("/admin/")
    assert "/admin/sign-in" in page.url  # asked to sign in first
    screenshot(page, "sign-in")
    sign_in(page, app, "admin")
    assert page.get_by_role("heading", name="Front page").is_visible()
    assert page.get_by_text("admin@example.com").is_visible()
    screenshot(page, "front-page")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/sign-in")
    page.goto("/admin/")
    assert "/admin/sign-in" in page.url


def test_a_wrong_password_is_refused_in_the_page(page: Any, app: Any) -> None:
    sign_in(page, app, "viewer")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("E-mail").fill("viewer@example.com")
    page.get_by_label("Password").fill("not the right password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."


def test_the_console_at_phone_width_and_in_russian(browser: Any, live: Any, app: Any) -> None:
    context = browser.new_context(base_url=live.url, viewport={"width": 360, "height": 740}, locale="ru-RU")
    page = context.new_page()
    page.goto("/admin/sign-in")
    assert page.get_by_role("button", name="Войти").is_visible()
    context.close()
    page = browser.new_context(base_url=live.url, viewport={"width": 360, "height": 740}).new_page()
    sign_in(page, app, "admin")
    page.goto("/admin/?lang=ru")
    assert page.get_by_role("heading", name="Главная").is_visible()
    for path, name in (
        ("/admin/", "front-page"),
        ("/admin/content/", "flows"),
        ("/admin/content/flow/ru-bank-support", "flow"),
        ("/admin/content/flow/ru-bank-support/edit", "flow-editor"),
        ("/admin/texts/", "texts"),
        ("/admin/try/", "try"),
        ("/admin/operations/", "operations"),
        ("/admin/agents/", "agents"),
        ("/admin/audit/", "audit"),
        ("/admin/users/", "users"),
    ):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} scrolls sideways at 360 px ({width} px wide)"
        screenshot(page, f"{name}-360-ru")
    page.context.close()


def test_the_strict_policy_lets_the_console_run_its_own_scripts_only(page: Any, app: Any) -> None:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, app, "admin")
    page.goto("/admin/")
    assert page.evaluate("typeof window.htmx") == "object"  # our own static htmx loaded under the CSP
    assert not [e for e in errors if "Content Security Policy" in e], errors
