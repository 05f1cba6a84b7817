"""Every request's id: a proxy's X-Request-Id is kept when it is a sane id, anything else is replaced by
our own, so a header cannot put arbitrary text into every log line and back into the response."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from gateway.logs import request_id_var

OUR_OWN = re.compile(r"[0-9a-f]{32}")


class RequestIdsInLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str | None] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(request_id_var.get())


@pytest.mark.parametrize(
    "given",
    [
        "7f0c3bd2a9e14b5c8d6e0f1a2b3c4d5e",  # nginx $request_id
        "0b5e7c8a-3d1f-4e2a-9c6b-1a2b3c4d5e6f",  # a UUID
        "Root=1-67891233-abcdef012345678912345678",  # an AWS load balancer's trace id
    ],
)
def test_a_proxys_request_id_is_kept(client: Any, given: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": given})

    assert response.headers["X-Request-Id"] == given


@pytest.mark.parametrize(
    "given",
    [
        "a" * 129,
        "x" * 100_000,
        "id with spaces",
        "<script>alert(1)</script>",
        "+79161234567 called",
        "/l/AAAAAAAAAAAAAAAAAAAAAA",
        "",
    ],
)
def test_an_odd_request_id_is_replaced_by_our_own(client: Any, given: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": given})

    assert OUR_OWN.fullmatch(response.headers["X-Request-Id"])


def test_the_logs_carry_the_id_the_response_names(client: Any) -> None:
    handler = RequestIdsInLogs()
    logging.getLogger().addHandler(handler)
    try:
        response = client.post("/twilio/voice/incoming", headers={"X-Request-Id": "x" * 500})
    finally:
        logging.getLogger().removeHandler(handler)

    assert response.status_code == 403
    assert handler.seen and set(handler.seen) == {response.headers["X-Request-Id"]}
    assert request_id_var.get() is None
