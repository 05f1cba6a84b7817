"""TwiML building blocks for the engine, and the safe fallbacks used when something inside fails."""

from __future__ import annotations

import functools
from typing import Any

from twilio.twiml import TwiML, TwiMLException
from twilio.twiml.voice_response import Enqueue, Gather, VoiceResponse

from gateway.flows.model import DEFAULT_HOLD_MUSIC, Flow

WAIT_VERBS = frozenset({"Play", "Say", "Pause", "Gather", "Redirect", "Leave", "Hangup"})
"""The verbs Twilio allows in a waitUrl document."""
GATHER_VERBS = frozenset({"Say", "Play", "Pause"})
"""The verbs allowed inside <Gather>."""


def say(target: VoiceResponse | Gather, flow: Flow, text: str) -> None:
    """<Say> in the flow's voice and language."""
    target.say(text, voice=flow.voice, language=flow.locale)


def play_hold(response: VoiceResponse, music_url: str) -> None:
    """Hold music, played once: Twilio re-requests the waitUrl when the document ends, which is
    when the wait loop gets to announce or offer again (loop=0 would never let go)."""
    response.play(music_url, loop=1)


class RenderedResponse(VoiceResponse):  # type: ignore[misc]  # twilio ships no types
    """A document built once and rendered once, then served as it is: it refuses to be changed."""

    def __init__(self, response: VoiceResponse) -> None:
        super().__init__()
        self.verbs = tuple(response.verbs)
        self._xml: str = response.to_xml()

    def to_xml(self, xml_declaration: bool = True) -> str:
        return self._xml if xml_declaration else str(super().to_xml(xml_declaration=False))

    def nest(self, verb: TwiML | str) -> Any:
        raise TwiMLException("a rendered TwiML document is shared: build a new VoiceResponse instead")


@functools.lru_cache(maxsize=256)
def hold_document(music_url: str) -> RenderedResponse:
    """The wait loop's most frequent answer, hold music alone: built and rendered once per music URL
    (a flow version that changes its music has a new URL, so a new document)."""
    response = VoiceResponse()
    play_hold(response, music_url)
    return RenderedResponse(response)


def enqueue(response: VoiceResponse, queue: str, wait_url: str, action_url: str) -> Enqueue:
    """<Enqueue waitUrl=... action=...>queue</Enqueue>, both requested with POST."""
    verb: Enqueue = response.enqueue(
        queue, action=action_url, method="POST", wait_url=wait_url, wait_url_method="POST"
    )
    return verb


def hold_in_queue(music_url: str = DEFAULT_HOLD_MUSIC) -> VoiceResponse:
    """Fallback waitUrl document: hold music only, so a caller keeps their place whatever failed."""
    return hold_document(music_url)


def fallback_enqueue(
    queue: str,
    wait_url: str,
    action_url: str,
    text: str | None = None,
    voice: str | None = None,
    language: str | None = None,
) -> VoiceResponse:
    """Fallback for a caller not yet queued: an optional apology, then a default queue."""
    response = VoiceResponse()
    if text:
        options: dict[str, Any] = {k: v for k, v in (("voice", voice), ("language", language)) if v}
        response.say(text, **options)
    enqueue(response, queue, wait_url, action_url)
    return response


def empty() -> VoiceResponse:
    """An empty <Response/> (Twilio then ends the document, or the call, as it sees fit)."""
    return VoiceResponse()
