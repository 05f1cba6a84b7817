"""The admin console at /admin: server-rendered pages for contact-centre admins, publishers, agents and
managers. Every page needs a signed-in user with the permission it names (`gateway.users.roles`); every
form carries a CSRF token; every page sends a strict Content-Security-Policy (scripts and styles only
from our own static files, shipped inside the package). The pages call the same services as the CLI.

Each area is a module with its own blueprint under /admin/<area> (see `AREAS`), built with
`base.area`; what they share (sign-in, roles, CSRF, headers, languages) is in `base`.
"""

from __future__ import annotations

from flask import Flask

from gateway.web.admin import agents, audit, base, content, home, operations, reports, texts, tryit, users


def install(app: Flask) -> None:
    base.install(app)
    app.register_blueprint(home.bp)
    base.MENU.clear()
    for module in AREAS:
        app.register_blueprint(module.bp)
        base.MENU.append(module.MENU)


# the areas' modules, each with its `bp`, in menu order
AREAS: list = [content, texts, tryit, reports, agents, operations, audit, users]  # type: ignore[type-arg]
