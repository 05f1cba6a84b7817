"""Twilio's webhook parameters, parsed once into typed values (handlers never read raw form keys)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True)
class VoiceRequest:
    """One voice webhook request: the call, the caller, and whatever this webhook adds."""

    call_sid: str
    account_sid: str
    caller: str | None  # From, raw: parsed into a number by gateway.phone
    called: str | None  # To
    call_status: str | None = None
    digits: str | None = None
    speech: str | None = None
    speech_confidence: float | None = None
    # waitUrl and Enqueue action
    queue_result: str | None = None
    queue_sid: str | None = None
    queue_position: int | None = None
    queue_size: int | None = None
    queue_time: int | None = None
    avg_queue_time: int | None = None
    # Dial action
    dial_status: str | None = None
    # SHAKEN/STIR attestation, when the carrier sends it
    stir_verstat: str | None = None
    call_duration: int | None = None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> VoiceRequest:
        call_sid = form.get("CallSid", "")
        if not _SID.match(call_sid):
            raise BadRequest("CallSid is missing or malformed")
        confidence = form.get("Confidence")
        return cls(
            call_sid=call_sid,
            account_sid=form.get("AccountSid", ""),
            caller=form.get("From") or form.get("Caller"),
            called=form.get("To") or form.get("Called"),
            call_status=form.get("CallStatus"),
            digits=form.get("Digits") or None,
            speech=form.get("SpeechResult") or None,
            speech_confidence=float(confidence) if confidence is not None and _is_float(confidence) else None,
            queue_result=form.get("QueueResult"),
            queue_sid=form.get("QueueSid"),
            queue_position=_int(form.get("QueuePosition")),
            queue_size=_int(form.get("CurrentQueueSize")),
            queue_time=_int(form.get("QueueTime")),
            avg_queue_time=_int(form.get("AvgQueueTime")),
            dial_status=form.get("DialCallStatus"),
            stir_verstat=form.get("StirVerstat"),
            call_duration=_int(form.get("CallDuration")),
        )


def _is_float(value: str | None) -> bool:
    try:
        float(value or "")
        return True
    except ValueError:
        return False


class BadRequest(ValueError):
    """The request is signed but lacks what every voice webhook has (a CallSid)."""
