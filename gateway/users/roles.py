"""The five roles and what each may do. A view or command asks for a permission, never for a role, so
what a role grants is written here once."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    VIEW = "view"  # reports, flows and texts read-only, the dashboard
    AGENT = "agent"  # context cards and chat look-up (callers' data)
    EDIT = "edit"  # drafts, validation, test calls in the browser
    PUBLISH = "publish"  # publish and rollback
    OPERATE = "operate"  # users, settings, the messaging pause, consent, opt-outs, dead letters, audit


ROLES: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.VIEW}),
    "agent": frozenset({Permission.VIEW, Permission.AGENT}),
    "editor": frozenset({Permission.VIEW, Permission.EDIT}),
    "publisher": frozenset({Permission.VIEW, Permission.EDIT, Permission.PUBLISH}),
    "admin": frozenset(Permission),
}


def may(role: str, permission: Permission) -> bool:
    return permission in ROLES.get(role, frozenset())
