"""`/healthz` (the process answers) and `/readyz` (database, migrations and Redis are usable)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify

from gateway.app import services

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
        checks["migrations"] = (
            {"ok": True, "revision": sorted(applied)}
            if applied == expected
            else {
                "ok": False,
                "error": f"schema at {sorted(applied) or 'nothing'}, "
                f"code expects {sorted(expected)}: run `deflect db upgrade`",
            }
        )
    except Exception as exc:
        log.warning("database not ready: %s", exc.__class__.__name__)
        checks["database"] = {"ok": False, "error": _brief(exc)}
    try:
        svc.redis.ping()
        checks["redis"] = {"ok": True}
    except Exception as exc:
        log.warning("redis not ready: %s", exc.__class__.__name__)
        checks["redis"] = {"ok": False, "error": _brief(exc)}
    return checks


def _brief(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text[:200]}"
