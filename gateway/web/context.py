"""How a view reaches the services of its process: the one object `create_app` built and keeps in
`app.extensions` (views never import `gateway.app`)."""

from __future__ import annotations

from flask import current_app

from gateway.services import Services
from gateway.settings import Settings
from gateway.simulation.sandbox import Sandboxes

EXTENSION = "deflect"
SANDBOXES = "deflect.sandboxes"  # where the console's test calls are played (`gateway.simulation`)


def services() -> Services:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def settings() -> Settings:
    return services().settings


def sandboxes() -> Sandboxes:
    return current_app.extensions[SANDBOXES]  # type: ignore[no-any-return]
