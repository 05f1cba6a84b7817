"""Agents: find a chat's context card by its reference or by the last four digits of the number. With
the default `card` hand-off adapter the card link is nowhere else an agent can reach (the server log
only names the hand-off), so this page hands it out: one chat at a time, each look-up limited per agent
and written to the audit log (`gateway.handoff.finder`)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user

from gateway.handoff.finder import AGENT_WINDOW_SECONDS, RECENT
from gateway.users.roles import Permission
from gateway.web.admin.base import MenuItem, actor, area, requires
from gateway.web.context import services

bp = area("agents", __name__)
MENU = MenuItem("admin_agents.index", "agents.menu", Permission.AGENT)


@bp.get("/")
@requires(Permission.AGENT)
def index() -> Any:
    return _page()


@bp.post("/find")
@requires(Permission.AGENT)
def find() -> Any:
    query = request.form.get("query", "").strip()[:64]
    search = services().chats.find(query, actor=actor(), who=_who())
    status = {"invalid": 400, "limited": 429}.get(search.outcome, 200)
    return _page(query=query, search=search), status


@bp.post("/card")
@requires(Permission.AGENT)
def card() -> Any:
    raw = request.form.get("session_id", "")
    if not raw.isdigit():
        return _page(link_outcome="none"), 404
    link = services().chats.card(int(raw), actor=actor(), who=_who())
    status = {"none": 404, "limited": 429}.get(link.outcome, 200)
    return _page(link=link, link_outcome=link.outcome), status


def _page(**values: Any) -> Any:
    return render_template(
        "admin/agents/index.html",
        recent_hours=int(RECENT.total_seconds() // 3600),
        window_minutes=AGENT_WINDOW_SECONDS // 60,
        **values,
    )


def _who() -> str:
    """The agent whose look-ups are counted (the account, whichever browser it signs in from)."""
    return f"user:{current_user.user.id}"
