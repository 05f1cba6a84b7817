"""`/healthz` (the process answers) and `/readyz` (database, migrations and Redis are usable).

Both are public (load balancers ask them): `/readyz` names what is down, and the details (hosts,
ports, revisions, the driver's error) go to the log only.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify

from gateway.web.context import services

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    checks = readiness(services())
    ready = all(c["ok"] for c in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def readiness(svc: Any) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    try:
        svc.database.ping()
        applied, expected = svc.database.migration_state()
        checks["database"] = {"ok": True}
        if applied == expected:
            checks["migrations"] = {"ok": True}
        else:
            log.warning(
                "database schema at %s, the code expects %s: run `deflect db upgrade`",
                sorted(applied) or "nothing",
                sorted(expected),
            )
            checks["migrations"] = {"ok": False, "error": "schema out of date: run `deflect db upgrade`"}
    except Exception as exc:
        log.warning("database not ready: %s", _brief(exc))
        checks["database"] = {"ok": False, "error": "unavailable"}
    try:
        svc.redis.ping()
        checks["redis"] = {"ok": True}
    except Exception as exc:
        log.warning("redis not ready: %s", _brief(exc))
        checks["redis"] = {"ok": False, "error": "unavailable"}
    return checks


def _brief(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text[:200]}"
