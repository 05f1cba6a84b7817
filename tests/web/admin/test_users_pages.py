"""Users in the console: admins list, add, change roles, deactivate and activate accounts, every change
audited; errors are shown next to the form; nobody can lock themselves out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.console import PASSWORD, Console, add_user, signed_in


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def users(app: Any) -> Any:
    return app.extensions["deflect"].users


def audit(app: Any, action: str) -> list[Any]:
    return [e for e in app.extensions["deflect"].content.store.audit(limit=200) if e.action == action]


@pytest.mark.parametrize("role", ["viewer", "agent", "editor", "publisher"])
def test_managing_users_is_refused_to_every_role_but_admin(app: Any, role: str) -> None:
    add_user(app, "other@example.com", "viewer")
    console = signed_in(app, role)
    assert console.get("/admin/users/").status_code == 403
    console.get("/admin/")
    new = {"email": "new@example.com", "role": "admin", "password": PASSWORD, "password_again": PASSWORD}
    assert console.post("/admin/users/add", new).status_code == 403
    assert (
        console.post("/admin/users/role", {"email": f"{role}@example.com", "role": "admin"}).status_code
        == 403
    )
    assert (
        console.post("/admin/users/active", {"email": "other@example.com", "active": "0"}).status_code == 403
    )
    assert users(app).find("new@example.com") is None
    assert users(app).find(f"{role}@example.com").role == role
    assert users(app).find("other@example.com").active


def test_an_admin_sees_every_user_with_role_state_and_last_sign_in(app: Any) -> None:
    add_user(app, "viewer@example.com", "viewer")
    console = signed_in(app, "admin", "ops@example.com")
    page = text(console.get("/admin/users/"))
    assert "viewer@example.com" in page and "ops@example.com" in page
    assert "never" in page  # the viewer never signed in
    assert "2026-11-24 09:00 UTC" in page  # the admin's sign-in, on the test's clock


def test_an_admin_adds_a_user_who_can_then_sign_in(app: Any) -> None:
    console = signed_in(app, "admin", "ops@example.com")
    added = console.post(
        "/admin/users/add",
        {"email": "Editor@Example.com", "role": "editor", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert added.status_code == 302
    assert "editor@example.com added as editor" in text(console.get(added.headers["Location"]))
    [entry] = [e for e in audit(app, "user.added") if e.subject == "user:editor@example.com"]
    assert entry.actor == "ops@example.com (console)" and entry.after == "editor"
    assert Console(app.test_client()).sign_in("editor@example.com").status_code == 302


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"email": "not-an-address", "password_again": PASSWORD}, "This is not an e-mail address."),
        ({"password": "short", "password_again": "short"}, "The password is too short: at least 12"),
        ({"password_again": PASSWORD + "!"}, "The two passwords differ."),
        ({"email": "ops@example.com"}, "This e-mail already has an account."),
        ({"role": "owner"}, "Choose one of the roles."),
    ],
)
def test_a_user_the_accounts_refuse_is_explained_next_to_the_form(
    app: Any, form: dict[str, str], message: str
) -> None:
    console = signed_in(app, "admin", "ops@example.com")
    data = {"email": "new@example.com", "role": "viewer", "password": PASSWORD, "password_again": PASSWORD}
    refused = console.post("/admin/users/add", {**data, **form})
    assert refused.status_code == 400
    page = text(refused)
    assert 'id="add-error"' in page and message in page
    assert users(app).find("new@example.com") is None


def test_an_admin_changes_a_role_and_deactivates_then_activates_a_user(app: Any) -> None:
    add_user(app, "anna@example.com", "viewer")
    console = signed_in(app, "admin", "ops@example.com")

    assert (
        console.post("/admin/users/role", {"email": "anna@example.com", "role": "publisher"}).status_code
        == 302
    )
    assert users(app).find("anna@example.com").role == "publisher"
    assert (
        console.post("/admin/users/active", {"email": "anna@example.com", "active": "0"}).status_code == 302
    )
    assert not users(app).find("anna@example.com").active
    assert Console(app.test_client()).sign_in("anna@example.com").status_code == 401
    assert (
        console.post("/admin/users/active", {"email": "anna@example.com", "active": "1"}).status_code == 302
    )
    assert users(app).find("anna@example.com").active

    [role] = audit(app, "user.role_changed")
    assert (role.actor, role.before, role.after) == ("ops@example.com (console)", "viewer", "publisher")
    assert [e.actor for e in audit(app, "user.deactivated") + audit(app, "user.activated")] == [
        "ops@example.com (console)"
    ] * 2


def test_an_admin_cannot_deactivate_or_demote_themselves(app: Any) -> None:
    console = signed_in(app, "admin", "ops@example.com")

    demoted = console.post("/admin/users/role", {"email": "ops@example.com", "role": "editor"})
    deactivated = console.post("/admin/users/active", {"email": "ops@example.com", "active": "0"})

    for refused in (demoted, deactivated):
        assert refused.status_code == 400
        assert "You cannot deactivate yourself or take away your own admin role" in text(refused)
    me = users(app).find("ops@example.com")
    assert me.role == "admin" and me.active
    assert audit(app, "user.role_changed") == [] and audit(app, "user.deactivated") == []
    other = signed_in(app, "admin", "second@example.com")
    assert other.post("/admin/users/role", {"email": "ops@example.com", "role": "editor"}).status_code == 302


def test_user_forms_without_the_csrf_token_get_400_and_change_nothing(app: Any) -> None:
    add_user(app, "anna@example.com", "viewer")
    console = signed_in(app, "admin")
    new = {"email": "new@example.com", "role": "admin", "password": PASSWORD, "password_again": PASSWORD}
    assert console.post("/admin/users/add", new, csrf=False).status_code == 400
    assert (
        console.post(
            "/admin/users/role", {"email": "anna@example.com", "role": "admin"}, csrf=False
        ).status_code
        == 400
    )
    assert (
        console.post(
            "/admin/users/active", {"email": "anna@example.com", "active": "0"}, csrf=False
        ).status_code
        == 400
    )
    assert users(app).find("new@example.com") is None
    anna = users(app).find("anna@example.com")
    assert anna.role == "viewer" and anna.active
