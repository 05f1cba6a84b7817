"""Every HTTP edge of the gateway, thin and checked at the door: Twilio's voice and messaging webhooks
(signature), Telegram and Viber (their secrets), the short link and the context card (bearer links),
the health checks, /metrics (token or network), the reports API (bearer tokens), and the admin console
(`gateway.web.admin`, behind sign-in). Handlers parse, call one domain function and render its result.

`register(app)` adds them all to the Flask app `gateway.app.create_app` builds.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask, *, console: bool = True) -> None:
    """Every edge and the admin console; without `console` (a test call's sandbox), only the Twilio
    webhooks a call reaches: the links in its SMS open on the installation itself."""
    from gateway.web import (
        admin,
        card,
        health,
        links,
        messaging,
        metrics,
        reports_api,
        telegram,
        viber,
        voice,
    )

    if not console:
        for module in (voice, messaging):
            app.register_blueprint(module.bp)
        return
    for module in (health, metrics, voice, messaging, links, telegram, card, viber, reports_api):
        app.register_blueprint(module.bp)
    admin.install(app)
