"""What every console page shares: the signed-in user (Flask-Login, a session cookie that is Secure,
HttpOnly and SameSite=Strict), permissions per view, CSRF on every POST (Flask-WTF; a form without its
token gets 400), strict security headers, the language (ru or en, from the user's choice or the
browser's), and a friendly page instead of any 500."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from flask import Blueprint, Flask, Request, Response, abort, g, redirect, render_template, request, url_for
from flask.sessions import NullSession, SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user
from flask_login.utils import _user_context_processor
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from gateway.users.roles import Permission, may
from gateway.users.service import User
from gateway.web.admin import i18n
from gateway.web.context import services

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
csrf = CSRFProtect()
login_manager = LoginManager()

SESSION_HOURS = 8
CONSOLE_PATH = "/admin"  # the console's URLs; the session cookie is opened for these only
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin: Flask-WTF checks the Referer of HTTPS form posts; nothing leaves for other sites.
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
}


@dataclass(frozen=True)
class MenuItem:
    endpoint: str  # the area's front page
    label: str  # a text key
    permission: Permission  # shown only to roles that have it


MENU: list[MenuItem] = []  # filled by `gateway.web.admin.install`, in the areas' order


@dataclass
class SignedIn(UserMixin):  # type: ignore[misc]
    """The signed-in user as Flask-Login sees it; read again on every request, so a role change or a
    deactivation takes effect at once."""

    user: User

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def is_active(self) -> bool:
        return self.user.active

    def may(self, permission: Permission | str) -> bool:
        return may(self.user.role, Permission(permission))


def install(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="deflect_admin",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        REMEMBER_COOKIE_SECURE=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_CHECK_DEFAULT=False,  # only the console's forms: Twilio's webhooks are signed instead
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    # The session (a signed cookie) and Flask-Login exist for the console only: every other request
    # (Twilio's webhooks, Telegram, Viber, links, health, metrics, the reports API) gets an empty
    # session that refuses writes, and runs none of Flask-Login's hooks (`protect` adds them to the
    # console's blueprints). No cookie read, no serializer built per webhook; no way for a webhook to
    # read or set a console session.
    app.session_interface = ConsoleSessions()
    csrf.init_app(app)
    _drop_app_hook(app.before_request_funcs, "csrf_protect")  # a no-op (WTF_CSRF_CHECK_DEFAULT off)
    login_manager.init_app(app, add_context_processor=False)
    _drop_app_hook(app.after_request_funcs, "_update_remember_cookie")
    login_manager.session_protection = "strong"
    login_manager.login_view = "admin.sign_in"
    login_manager.user_loader(_load)
    login_manager.unauthorized_handler(_unauthorized)
    app.jinja_env.globals.update(_=i18n.gettext, may=_may, menu_items=lambda: MENU)


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


class NoSession(NullSession):
    """The session of a request outside the console: empty, and any write is a bug."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no session outside the admin console")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _refuse


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened for the console's paths only (Flask saves no null
    session, so a webhook's answer never carries a session cookie or `Vary: Cookie`)."""

    null_session_class = NoSession

    def open_session(self, app: Flask, request: Request) -> Any:
        if not is_console_path(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _drop_app_hook(hooks: dict[Any, list[Any]], name: str) -> None:
    """Take an extension's app-wide hook off every request (the console's blueprints run it)."""
    app_wide = hooks.get(None, [])
    app_wide[:] = [hook for hook in app_wide if getattr(hook, "__name__", "") != name]


def _load(user_id: str) -> SignedIn | None:
    user = services().users.get(int(user_id)) if user_id.isdigit() else None
    return SignedIn(user) if user is not None and user.active else None


def _unauthorized() -> Any:
    if request.headers.get("HX-Request") or request.method != "GET":
        abort(401)
    return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))


def _may(permission: Permission | str) -> bool:
    return bool(current_user.is_authenticated and current_user.may(permission))


def requires(permission: Permission) -> Callable[[F], F]:
    """The view needs a signed-in user whose role grants `permission` (403 otherwise)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.may(permission):
                abort(403)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def actor() -> str:
    """Who the audit log names for a change made from the console."""
    return f"{current_user.user.email} (console)"


def page_arg() -> int:
    """The page a list asks for (`?page=`, from 1; anything else is the first)."""
    raw = request.args.get("page", "1")
    return max(int(raw), 1) if raw.isdigit() else 1


def page_count(total: int, per_page: int) -> int:
    """How many pages `total` rows fill (at least one, the empty one)."""
    return max(1, -(-total // per_page))


def area(name: str, import_name: str) -> Blueprint:
    """The blueprint of one console area, at /admin/<name>, with the console's rules installed."""
    bp = Blueprint(f"admin_{name}", import_name, url_prefix=f"/admin/{name}")
    protect(bp)
    return bp


def protect(bp: Blueprint) -> None:
    """Flask-Login's hooks, CSRF on every POST, the language, the headers and the error pages of the
    console."""
    bp.after_request(login_manager._update_remember_cookie)
    bp.context_processor(_user_context_processor)

    @bp.before_request
    def _before() -> None:
        g.started = time.perf_counter()
        g.language = i18n.choose(request)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()

    @bp.after_request
    def _headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if "started" in g:  # what the page cost the server (dev tools and bench.console_pages read it)
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.started) * 1000:.1f}"
        if request.args.get("lang") in i18n.LANGUAGES:
            response.set_cookie(
                i18n.COOKIE,
                request.args["lang"],
                max_age=365 * 86400,
                secure=True,
                httponly=True,
                samesite="Strict",
            )
        return response

    _install_error_pages(bp)


def _install_error_pages(bp: Blueprint) -> None:
    @bp.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        log.warning("console: form refused (%s)", exc.description)
        return _error(400, "error.csrf")

    @bp.errorhandler(403)
    def _forbidden(exc: Exception) -> Any:
        return _error(403, "error.forbidden")

    @bp.errorhandler(404)
    def _missing(exc: Exception) -> Any:
        return _error(404, "error.missing")

    @bp.errorhandler(SQLAlchemyError)
    def _database(exc: SQLAlchemyError) -> Any:
        log.warning("console: database unavailable (%s)", type(exc).__name__)
        return _error(503, "error.database")

    @bp.errorhandler(Exception)
    def _internal(exc: Exception) -> Any:
        if getattr(exc, "code", None) and hasattr(exc, "get_response"):
            return exc  # an HTTP error (400, 401, 405...) keeps its code
        log.exception("console: %s failed (%s)", request.path, type(exc).__name__)
        return _error(500, "error.internal")


def _error(status: int, message: str) -> Any:
    response = Response(render_template("admin/error.html", status=status, message=message), status)
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response
