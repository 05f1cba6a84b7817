"""What every page a customer or agent opens from a link has in common (short links, context cards):
private headers, and a friendly "try again in a minute" page instead of any 500."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Response
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
}


_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def strict_policy(*templates: Path) -> str:
    """A Content-Security-Policy that lets these templates' inline <style> blocks (by hash) and
    nothing else: no script, image, font, connection, form, <base>, plugin or framing."""
    sources = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
            for template in templates
            for block in _STYLE.findall(template.read_text(encoding="utf-8"))
        }
    )
    style = " ".join(sources) or "'none'"
    return (
        f"default-src 'none'; style-src {style}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def make_private(
    bp: Blueprint, what: str, unavailable: Callable[[], Any], headers: Mapping[str, str] = PRIVATE_HEADERS
) -> None:
    """Install the headers and the error handling on a blueprint of link pages."""

    @bp.after_request
    def _private(response: Response) -> Response:
        for name, value in headers.items():
            response.headers[name] = value
        return response

    @bp.errorhandler(SQLAlchemyError)
    def _database_down(exc: SQLAlchemyError) -> Any:
        log.warning("%s: database unavailable (%s)", what, exc.__class__.__name__)
        return unavailable()

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return exc
        log.exception("%s failed", what)
        return unavailable()
