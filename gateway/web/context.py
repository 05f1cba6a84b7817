"""How a view reaches the services of its process: the one object `create_app` built and keeps in
`app.extensions` (views never import `gateway.app`)."""

from __future__ import annotations

from flask import current_app

from gateway.services import Services
from gateway.settings import Settings

EXTENSION = "deflect"


def services() -> Services:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def settings() -> Settings:
    return services().settings
