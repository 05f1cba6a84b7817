"""The console's session and Flask-Login are the console's alone: a webhook (or any other request
outside /admin) neither reads the session cookie nor can write one, and runs none of their hooks."""

from __future__ import annotations

from typing import Any

import pytest
from flask import session

from gateway.web.admin.base import NoSession, is_console_path, login_manager
from tests.support.calls import PUBLIC_BASE, Call, sign
from tests.support.console import signed_in


def _console_cookie(app: Any) -> str:
    console = signed_in(app, "admin")
    cookie = console.client.get_cookie("deflect_admin")
    assert cookie is not None
    return str(cookie.value)


def test_only_the_console_paths_have_a_session() -> None:
    assert is_console_path("/admin") and is_console_path("/admin/") and is_console_path("/admin/users/")
    assert not is_console_path("/administrator") and not is_console_path("/twilio/voice/wait")
    assert not is_console_path("/l/abc") and not is_console_path("/api/v1/reports/calls")


def test_a_webhook_request_sees_no_console_session_even_with_its_cookie(app: Any) -> None:
    cookie = _console_cookie(app)
    headers = {"Cookie": f"deflect_admin={cookie}"}
    with app.test_request_context("/admin/", headers=headers):
        assert session.get("_user_id")  # the cookie is a signed-in console session
    with app.test_request_context("/twilio/voice/wait", method="POST", headers=headers):
        assert isinstance(session, NoSession) and not session
        assert session.get("_user_id") is None
        with pytest.raises(RuntimeError):
            session["_user_id"] = "1"
        with pytest.raises(RuntimeError):
            session.update({"_user_id": "1"})


def test_a_webhook_answer_carries_no_session_cookie(app: Any, client: Any) -> None:
    cookie = _console_cookie(app)
    call = Call(client)
    data = call.params()
    response = client.post(
        "/twilio/voice/incoming",
        data=data,
        headers={
            "X-Twilio-Signature": sign(PUBLIC_BASE + "/twilio/voice/incoming", data),
            "Cookie": f"deflect_admin={cookie}; remember_token=1|forged",
        },
        base_url=PUBLIC_BASE,
    )
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_flask_login_runs_on_the_console_only(app: Any) -> None:
    app_wide = [getattr(hook, "__name__", "") for hook in app.after_request_funcs.get(None, [])]
    assert "_update_remember_cookie" not in app_wide
    assert "csrf_protect" not in [getattr(h, "__name__", "") for h in app.before_request_funcs.get(None, [])]
    admin_hooks = app.after_request_funcs.get("admin", [])
    assert login_manager._update_remember_cookie in admin_hooks
