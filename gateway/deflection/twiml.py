"""TwiML of the deflection dialogue: small pure functions. Everything here is answered inside the wait
loop (the caller is still queued), so only waitUrl verbs are used: Say, Gather (Say inside), Pause,
Redirect, Play, Leave."""

from __future__ import annotations

from typing import Any, Protocol

from twilio.twiml.voice_response import VoiceResponse

from gateway.events import Event
from gateway.flows.model import Flow
from gateway.flows.state import CallState, Outcome, Stage, Urls
from gateway.flows.twiml import play_hold, say

KEY_TIMEOUT = 8
NUMBER_TIMEOUT = 15


class DeflectionUrls(Urls, Protocol):
    """The web layer's URLs for the deflection dialogue, besides the flow's own."""

    base: str  # where callers reach us: PUBLIC_BASE_URL, or the URL of this very request

    def consent(self) -> str: ...

    def number_entry(self) -> str: ...

    def number_confirm(self) -> str: ...

    def sending(self) -> str: ...


def ask_key(flow: Flow, text: str, action: str) -> VoiceResponse:
    """One key for a question (consent, read-back); no key falls through to the same URL."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", num_digits=1, action=action, method="POST", timeout=KEY_TIMEOUT)
    say(gather, flow, text)
    response.redirect(action, method="POST")
    return response


def ask_number(flow: Flow, prompt: str, action: str, before: str | None = None) -> VoiceResponse:
    """A mobile number keyed in, finished with #."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", finish_on_key="#", num_digits=16, action=action, method="POST", timeout=NUMBER_TIMEOUT
    )
    if before:
        say(gather, flow, before)
    say(gather, flow, prompt)
    response.redirect(action, method="POST")
    return response


def say_and_go(flow: Flow | None, text: str | None, url: str, pause: int = 0) -> VoiceResponse:
    """Say something (or nothing), optionally wait, then continue at `url` (the wait loop, or the next
    poll for the SMS)."""
    response = VoiceResponse()
    if flow is not None and text:
        say(response, flow, text)
    if pause:
        response.pause(length=pause)
    response.redirect(url, method="POST")
    return response


def say_and_leave(flow: Flow | None, text: str | None) -> VoiceResponse:
    """The caller leaves the queue (the Enqueue action then hears `leave`)."""
    response = VoiceResponse()
    if flow is not None and text:
        say(response, flow, text)
    response.leave()
    return response


def hold(flow: Flow, music_url: str, text: str | None = None) -> VoiceResponse:
    """One pass of hold music, after an optional line; the wait loop comes back afterwards."""
    response = VoiceResponse()
    if text:
        say(response, flow, text)
    play_hold(response, music_url)
    return response


def back_to_queue(
    flow: Flow,
    state: CallState,
    text: str,
    urls: Urls,
    stage: Stage,
    reason: str,
    data: dict[str, Any] | None = None,
) -> Outcome:
    """Tell the caller, then back to the wait loop: their place in the queue is kept."""
    state.deflection.stage = stage
    state.offer_declined = True  # no second offer on this call
    kind = reason if "." in reason else f"deflection.{stage}"
    return Outcome(
        say_and_go(flow, text, urls.wait()), state, [Event(kind, {"reason": reason, **(data or {})})]
    )


def resume(state: CallState, urls: Urls, kind: str) -> Outcome:
    """A stale or repeated request: back to the wait loop, nothing said."""
    return Outcome(say_and_go(None, None, urls.wait()), state, [Event(kind, {})])
