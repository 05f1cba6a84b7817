"""Logs: structured, with request id and CallSid, and never a full phone number."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from gateway.logs import ContextFilter, call_sid_var, mask_number, mask_numbers, request_id_var


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+79161234567", "+7916*****67"),
        ("+77011234567", "+7701*****67"),
        ("+442071838750", "+4420******50"),
    ],
)
def test_numbers_are_masked(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_masking_finds_numbers_in_text_but_leaves_sids_and_dates() -> None:
    text = "SMS to whatsapp:+79161234567 for CA0123456789abcdef0123456789abcdef at 2026-11-23 10:59"
    assert mask_numbers(text) == (
        "SMS to whatsapp:+7916*****67 for CA0123456789abcdef0123456789abcdef at 2026-11-23 10:59"
    )


def test_json_log_line_carries_context_and_masks_extras(capsys: Any) -> None:
    from gateway.logs import configure_logging

    configure_logging("json", "info", production=True)
    token_r, token_c = request_id_var.set("req-1"), call_sid_var.set("CA" + "f" * 32)
    try:
        logging.getLogger("gateway.test").info(
            "offer accepted by %s", "+79161234567", extra={"caller": "+77011234567"}
        )
    finally:
        request_id_var.reset(token_r)
        call_sid_var.reset(token_c)
        configure_logging("text", "info", production=False)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "offer accepted by +7916*****67"
    assert line["caller"] == "+7701*****67"
    assert line["request_id"] == "req-1"
    assert line["call_sid"] == "CA" + "f" * 32
    assert line["level"] == "INFO"


def test_filter_masks_preformatted_arguments() -> None:
    record = logging.makeLogRecord({"msg": "from %s", "args": ("+79161234567",)})
    ContextFilter().filter(record)
    assert record.getMessage() == "from +7916*****67"
