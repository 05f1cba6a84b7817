"""`create_app()`: wiring only. Settings, logging, services, blueprints, request context."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import web
from gateway.clock import Clock
from gateway.logs import configure_logging
from gateway.services import build_services
from gateway.settings import Settings, load_settings
from gateway.simulation.sandbox import Sandboxes
from gateway.web import edge
from gateway.web import metrics as web_metrics
from gateway.web.context import EXTENSION, SANDBOXES

log = logging.getLogger(__name__)


def create_app(
    config: dict[str, Any] | None = None,
    *,
    environ: dict[str, str] | None = None,
    clock: Clock | None = None,
    queue_name: str = "default",
    patient: bool = False,
) -> Flask:
    """Build the app from `config` layered over the environment (`environ`, default os.environ).
    `clock` is the one clock of this process (default: the system's; tests and the simulator pass
    their own); `queue_name` where its jobs go (the simulator's own queue, run in-process);
    `patient`: a worker or the scheduler, whose Redis calls ride out a Sentinel failover."""
    settings = load_settings(config, environ=environ)
    configure_logging(settings.deflect_log_format, settings.deflect_log_level, production=settings.production)
    return build_app(settings, clock, queue_name=queue_name, patient=patient)


def build_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    queue_name: str = "default",
    console: bool = True,
    patient: bool = False,
) -> Flask:
    """The app of validated `settings`. With the admin console, the console's test calls get a
    sandbox factory (`Sandboxes`): each builds an app of its own, without a console, through here."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, **settings.extras)
    if settings.trusted_proxy_count:
        n = settings.trusted_proxy_count
        proxied = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
        app.wsgi_app = proxied  # type: ignore[method-assign]
    if settings.deflect_skip_signature_check:
        log.warning("DEFLECT_SKIP_SIGNATURE_CHECK is on: ANYONE can post fake calls to this gateway")

    services = build_services(settings, clock, queue_name=queue_name, patient=patient, counted=console)
    app.extensions[EXTENSION] = services
    if console:
        app.extensions[SANDBOXES] = Sandboxes(services, _sandbox_app)
    edge.install(app, max_body_bytes=settings.deflect_max_body_kb * 1024)
    if console:  # a test call's sandbox is not the line's traffic
        web_metrics.install(app, services.metrics)
    web.register(app, console=console)
    return app


def _sandbox_app(settings: Settings, clock: Clock) -> Flask:
    return build_app(settings, clock, queue_name=Sandboxes.QUEUE, console=False)
