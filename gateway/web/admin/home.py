"""Signing in and out, and the console's front page: what is live, whether offers are paused, and
where each area is."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from gateway.users.roles import Permission
from gateway.web.admin.base import SignedIn, protect, requires
from gateway.web.context import services

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
protect(bp)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    error, status, email = None, 200, ""
    if request.method == "POST":
        email = request.form.get("email", "")[:254]
        outcome = services().users.sign_in(
            email, request.form.get("password", "")[:1024], address=request.remote_addr or "?"
        )
        if outcome.user is not None:
            session.clear()  # no session fixation: a new session for the signed-in user
            session.permanent = True
            login_user(SignedIn(outcome.user))
            return redirect(_safe_next(request.args.get("next")))
        if outcome.throttled:
            error, status = ("sign_in.throttled", {"minutes": max(outcome.retry_after // 60, 1)}), 429
        else:
            error, status = ("sign_in.refused", {}), 401
    first = request.method == "GET" and not services().users.any()
    return render_template("admin/sign_in.html", error=error, email=email, first=first), status


@bp.post("/sign-out")
def sign_out() -> Any:
    logout_user()
    session.clear()
    return redirect(url_for("admin.sign_in"))


@bp.get("/")
@requires(Permission.VIEW)
def home() -> Any:
    svc = services()
    items = svc.content.items()
    return render_template(
        "admin/home.html", items=items, switch=svc.guards.switch.state(), user=current_user.user
    )


def _safe_next(target: str | None) -> str:
    """Back to the page that asked for a sign-in, but only within the console."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/admin/"):
            return target
    return url_for("admin.home")
