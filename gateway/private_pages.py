"""What every page a customer or agent opens from a link has in common (short links, context cards):
private headers, and a friendly "try again in a minute" page instead of any 500."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
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
