"""Users (admins): who may sign in to the console and with which role; add, change role, deactivate and
activate, through the same service as `deflect users` (every change audited). Nobody can deactivate
themselves or take away their own admin role here: another admin must, so one always remains."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from gateway.users.roles import ROLES, Permission
from gateway.users.service import MIN_PASSWORD_LENGTH, UserError
from gateway.web.admin.base import MenuItem, actor, area, requires
from gateway.web.admin.i18n import gettext as _
from gateway.web.context import services

bp = area("users", __name__)
MENU = MenuItem("admin_users.index", "users.menu", Permission.OPERATE)


@bp.get("/")
@requires(Permission.OPERATE)
def index() -> Any:
    return _page()


@bp.post("/add")
@requires(Permission.OPERATE)
def add() -> Any:
    email = request.form.get("email", "").strip()[:254]
    role = request.form.get("role", "")
    password = request.form.get("password", "")[:1024]
    if password != request.form.get("password_again", "")[:1024]:
        return _page(add_error="mismatch", typed={"email": email, "role": role}), 400
    try:
        user = services().users.add(email, role, password, actor=actor())
    except UserError as exc:
        return _page(add_error=exc.reason, typed={"email": email, "role": role}), 400
    flash(_("users.added", email=user.email, role=_("role." + user.role)), "ok")
    return redirect(url_for(".index"))


@bp.post("/role")
@requires(Permission.OPERATE)
def change_role() -> Any:
    email, role = request.form.get("email", "")[:254], request.form.get("role", "")
    try:
        user = services().users.set_role(email, role, actor=actor(), acting=current_user.user.email)
    except UserError as exc:
        return _page(row_error=(email.strip().lower(), exc.reason)), 400
    flash(_("users.role_changed", email=user.email, role=_("role." + user.role)), "ok")
    return redirect(url_for(".index"))


@bp.post("/active")
@requires(Permission.OPERATE)
def set_active() -> Any:
    email, active = request.form.get("email", "")[:254], request.form.get("active") == "1"
    try:
        user = services().users.set_active(email, active, actor=actor(), acting=current_user.user.email)
    except UserError as exc:
        return _page(row_error=(email.strip().lower(), exc.reason)), 400
    flash(_("users.activated" if user.active else "users.deactivated", email=user.email), "ok")
    return redirect(url_for(".index"))


def _page(**values: Any) -> Any:
    return render_template(
        "admin/users/index.html",
        users=services().users.list(),
        roles=list(ROLES),
        min_password=MIN_PASSWORD_LENGTH,
        me=current_user.user.email,
        **values,
    )
