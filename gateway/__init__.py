"""The voice-to-message deflection gateway.

A call enters in `twilio_hooks/`, a flow decides in `flows/`, the offer and consent live in
`deflection/`, the SMS leaves through `messaging/`, the chat is matched in `handoff/`.
`create_app()` in `app.py` wires them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None, *, environ: dict[str, str] | None = None) -> Flask:
    from gateway.app import create_app as _create_app

    return _create_app(config, environ=environ)
