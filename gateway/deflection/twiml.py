"""TwiML of the deflection dialogue: small pure functions. Everything here is answered inside the wait
loop (the caller is still queued), so only waitUrl verbs are used: Say, Gather (Say and Play inside),
Pause, Redirect, Play, Leave. Every voice text is said by `speak`."""

from __future__ import annotations

from typing import Any, Protocol

from twilio.twiml.voice_response import Gather, VoiceResponse

from gateway.events import Event
from gateway.flows.model import Flow
from gateway.flows.state import CallState, Outcome, Stage, Urls
from gateway.flows.twiml import play_hold
from gateway.flows.voice_texts import Speech

KEY_TIMEOUT = 8
NUMBER_TIMEOUT = 15


class DeflectionUrls(Urls, Protocol):
    """The web layer's URLs for the deflection dialogue, besides the flow's own."""

    base: str  # where callers reach us: PUBLIC_BASE_URL, or the URL of this very request

    def consent(self) -> str: ...

    def number_entry(self) -> str: ...

    def number_confirm(self) -> str: ...

    def sending(self) -> str: ...


def speak(target: VoiceResponse | Gather, flow: Flow, speech: Speech) -> None:
    """A voice text, part by part: <Say> in the part's voice and language (default: the flow's), or
    <Play> of its recording."""
    for part in speech.parts:
        if part.audio is not None:
            target.play(part.audio)
        else:
            target.say(part.text, voice=part.voice or flow.voice, language=part.language or flow.locale)


def ask_key(flow: Flow, speech: Speech, action: str) -> VoiceResponse:
    """One key for a question (consent, read-back); no key falls through to the same URL."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", num_digits=1, action=action, method="POST", timeout=KEY_TIMEOUT)
    speak(gather, flow, speech)
    response.redirect(action, method="POST")
    return response


def ask_number(flow: Flow, prompt: Speech, action: str, before: Speech | None = None) -> VoiceResponse:
    """A mobile number keyed in, finished with #."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", finish_on_key="#", num_digits=16, action=action, method="POST", timeout=NUMBER_TIMEOUT
    )
    if before is not None:
        speak(gather, flow, before)
    speak(gather, flow, prompt)
    response.redirect(action, method="POST")
    return response


def say_and_go(flow: Flow | None, speech: Speech | None, url: str, pause: int = 0) -> VoiceResponse:
    """Say something (or nothing), optionally wait, then continue at `url` (the wait loop, or the next
    poll for the SMS)."""
    response = VoiceResponse()
    if flow is not None and speech is not None:
        speak(response, flow, speech)
    if pause:
        response.pause(length=pause)
    response.redirect(url, method="POST")
    return response


def say_and_leave(flow: Flow | None, speech: Speech | None) -> VoiceResponse:
    """The caller leaves the queue (the Enqueue action then hears `leave`)."""
    response = VoiceResponse()
    if flow is not None and speech is not None:
        speak(response, flow, speech)
    response.leave()
    return response


def hold(flow: Flow, music_url: str, speech: Speech | None = None) -> VoiceResponse:
    """One pass of hold music, after an optional line; the wait loop comes back afterwards."""
    response = VoiceResponse()
    if speech is not None:
        speak(response, flow, speech)
    play_hold(response, music_url)
    return response


def back_to_queue(
    flow: Flow,
    state: CallState,
    speech: Speech,
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
        say_and_go(flow, speech, urls.wait()), state, [Event(kind, {"reason": reason, **(data or {})})]
    )


def resume(state: CallState, urls: Urls, kind: str) -> Outcome:
    """A stale or repeated request: back to the wait loop, nothing said."""
    return Outcome(say_and_go(None, None, urls.wait()), state, [Event(kind, {})])
