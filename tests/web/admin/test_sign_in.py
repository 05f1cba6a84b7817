"""Signing in to the admin console: sessions, throttling, roles, CSRF and the headers every page sends."""

from __future__ import annotations

from typing import Any

from gateway.users.service import FAILURES_PER_ACCOUNT
from tests.support.console import PASSWORD, Console, add_user, signed_in


def audit_actions(app: Any) -> list[str]:
    return [entry.action for entry in app.extensions["deflect"].content.store.audit(limit=50)]


def test_a_page_asks_for_sign_in_and_returns_to_it(app: Any) -> None:
    add_user(app, "ops@example.com", "admin")
    console = Console(app.test_client())
    first = console.get("/admin/")
    assert first.status_code == 302
    assert "/admin/sign-in?next=" in first.headers["Location"]
    signed = console.sign_in("ops@example.com")
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/admin/")
    page = console.get("/admin/")
    assert page.status_code == 200
    assert "ops@example.com" in page.get_data(as_text=True)
    assert "user.signed_in" in audit_actions(app)


def test_the_session_cookie_is_secure_httponly_and_strict(app: Any) -> None:
    add_user(app, "ops@example.com", "admin")
    console = Console(app.test_client())
    response = console.sign_in("ops@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "deflect_admin=" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_every_console_page_sends_a_strict_policy(app: Any) -> None:
    for path in ("/admin/sign-in",):
        response = app.test_client().get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["Cache-Control"] == "no-store"
    console = signed_in(app, "viewer")
    assert "script-src 'self'" in console.get("/admin/").headers["Content-Security-Policy"]


def test_a_wrong_password_is_refused_and_recorded(app: Any) -> None:
    add_user(app, "ops@example.com", "admin")
    response = Console(app.test_client()).sign_in("ops@example.com", "not the password at all")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.get_data(as_text=True)
    assert "user.sign_in_failed" in audit_actions(app)


def test_sign_in_is_throttled_after_failures_even_with_the_right_password(app: Any) -> None:
    add_user(app, "ops@example.com", "admin")
    console = Console(app.test_client())
    for _ in range(FAILURES_PER_ACCOUNT):
        assert console.sign_in("ops@example.com", "wrong password guess").status_code == 401
    throttled = console.sign_in("ops@example.com", PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed attempts" in throttled.get_data(as_text=True)
    assert console.get("/admin/").status_code == 302  # still signed out
    assert "user.sign_in_throttled" in audit_actions(app)


def test_a_deactivated_user_is_signed_out_at_the_next_page(app: Any) -> None:
    console = signed_in(app, "editor")
    assert console.get("/admin/").status_code == 200
    app.extensions["deflect"].users.set_active("editor@example.com", False, actor="test")
    assert console.get("/admin/").status_code == 302
    assert Console(app.test_client()).sign_in("editor@example.com").status_code == 401


def test_a_form_without_its_csrf_token_gets_400_and_changes_nothing(app: Any) -> None:
    add_user(app, "ops@example.com", "admin")
    console = Console(app.test_client())
    refused = console.post("/admin/sign-in", {"email": "ops@example.com", "password": PASSWORD}, csrf=False)
    assert refused.status_code == 400
    assert console.get("/admin/").status_code == 302  # not signed in
    signed = signed_in(app, "viewer")
    assert signed.post("/admin/sign-out", csrf=False).status_code == 400
    assert signed.get("/admin/").status_code == 200  # still signed in


def test_sign_out_ends_the_session(app: Any) -> None:
    console = signed_in(app, "viewer")
    assert console.post("/admin/sign-out").status_code == 302
    assert console.get("/admin/").status_code == 302


def test_sign_in_goes_back_only_within_the_console(app: Any) -> None:
    add_user(app, "ops@example.com", "admin")
    console = Console(app.test_client())
    console.get("/admin/sign-in")
    response = console.post(
        "/admin/sign-in?next=https://evil.example/admin/", {"email": "ops@example.com", "password": PASSWORD}
    )
    assert response.headers["Location"].endswith("/admin/")
    assert "evil" not in response.headers["Location"]


def test_the_console_speaks_russian_when_asked(app: Any) -> None:
    client = app.test_client()
    page = client.get("/admin/sign-in", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert "Войти" in page.get_data(as_text=True)
    chosen = client.get("/admin/sign-in?lang=en", headers={"Accept-Language": "ru"})
    assert "Sign in" in chosen.get_data(as_text=True)
    remembered = client.get("/admin/sign-in", headers={"Accept-Language": "ru"})
    assert "Sign in" in remembered.get_data(as_text=True)  # the choice is kept in a cookie


def test_webhooks_need_no_csrf_token(app: Any) -> None:
    # The console's CSRF check is its own: Twilio's signed webhooks are not asked for a token.
    from tests.support.calls import Call

    answer = Call(app.test_client()).incoming()
    assert answer.verbs()  # a real TwiML document, not a 400 for a missing token


def test_the_sign_in_page_says_how_to_add_the_first_user_until_there_is_one(app: Any) -> None:
    client = app.test_client()
    assert "deflect users add" in client.get("/admin/sign-in").get_data(as_text=True)
    add_user(app, "ops@example.com", "admin")
    assert "deflect users add" not in client.get("/admin/sign-in").get_data(as_text=True)
