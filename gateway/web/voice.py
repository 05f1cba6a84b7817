"""Voice webhooks: where a call enters. Each handler checks the signature, parses Twilio's parameters,
calls one method of the voice service and returns its TwiML.

Whatever fails inside (Redis, the database, a flow, a bug), the caller never hears silence or Twilio's
"application error": the handler answers valid TwiML that keeps them in (or puts them in) a queue with
hold music, and logs the cause. No voice webhook answers 5xx.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from gateway.calls.request import BadRequest, VoiceRequest
from gateway.calls.service import StateLost, VoiceService
from gateway.flows import twiml
from gateway.web.context import services, settings
from gateway.web.metrics import count_fallback
from gateway.web.signature import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/twilio/voice")


class WebhookUrls:
    """The engine's `Urls`: absolute, on the public base URL, so Twilio (and its signature) see
    the same URL behind a proxy."""

    def __init__(self) -> None:
        self.base = settings().public_base_url or request.host_url.rstrip("/")

    def _url(self, endpoint: str, **values: Any) -> str:
        return self.base + _path(request.script_root, endpoint, tuple(sorted(values.items())))

    def step(self, step_id: str) -> str:
        return self._url("voice.step", step_id=step_id)

    def menu(self, step_id: str) -> str:
        return self._url("voice.menu", step_id=step_id)

    def wait(self) -> str:
        return self._url("voice.wait")

    def enqueue_action(self) -> str:
        return self._url("voice.queue_result")

    def offer(self) -> str:
        return self._url("voice.offer")

    def dial_action(self, step_id: str) -> str:
        return self._url("voice.dial_result", step_id=step_id)

    def consent(self) -> str:
        return self._url("voice.deflection", stage="consent")

    def number_entry(self) -> str:
        return self._url("voice.deflection", stage="number-entry")

    def number_confirm(self) -> str:
        return self._url("voice.deflection", stage="number-confirm")

    def sending(self) -> str:
        return self._url("voice.deflection", stage="sending")


@functools.lru_cache(maxsize=1024)
def _path(script_root: str, endpoint: str, values: tuple[tuple[str, Any], ...]) -> str:
    """A webhook's path, built once (`url_for` binds a URL adapter on every use): the paths are
    the blueprint's few rules, with a flow's step ids, under the application's root (`script_root`
    is there for the cache's key: `url_for` reads it from the request)."""
    arguments: dict[str, Any] = dict(values)
    return url_for(endpoint, **arguments)


def voice_service() -> VoiceService:
    return services().voice


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _not_queued_fallback(urls: WebhookUrls) -> VoiceResponse:
    """Not yet (or no longer) in a queue: put the caller in the fallback queue."""
    return twiml.fallback_enqueue(settings().deflect_fallback_queue, urls.wait(), urls.enqueue_action())


def _in_queue_fallback(_urls: WebhookUrls) -> VoiceResponse:
    """Already in a queue (waitUrl, or a Gather inside it): hold music keeps the place."""
    return twiml.hold_in_queue(settings().deflect_hold_music_url)


def _answer(
    handler: Callable[[VoiceRequest, WebhookUrls], VoiceResponse],
    fallback: Callable[[WebhookUrls], VoiceResponse],
) -> Response:
    urls = WebhookUrls()
    try:
        # A plain dict: a MultiDict's get() of a missing key (most of Twilio's optional parameters)
        # raises and catches a BadRequestKeyError, ten times per request.
        req = VoiceRequest.from_form(request.form.to_dict())
    except BadRequest as exc:
        return Response(f"{exc}\n", status=400, mimetype="text/plain")
    try:
        return _twiml(handler(req, urls))
    except StateLost:
        log.warning("call state lost; caller continues from the hold experience (%s)", request.path)
        count_fallback("state_lost")
    except Exception:
        log.exception("voice webhook failed; caller continues from the hold experience (%s)", request.path)
        count_fallback("error")
    _record_fallback(req)
    return _twiml(fallback(urls))


def _record_fallback(req: VoiceRequest) -> None:
    from gateway.events import Event

    try:
        voice_service().call_log.record(
            req.call_sid, [Event("call.fallback", {"path": request.path})], voice_service().clock.time()
        )
    except Exception:  # recording is best effort here; the caller's TwiML comes first
        log.exception("could not record the fallback")


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    return _answer(lambda req, urls: voice_service().incoming(req, urls), _not_queued_fallback)


@bp.post("/step/<step_id>")
@twilio_signed
def step(step_id: str) -> Response:
    return _answer(lambda req, urls: voice_service().step(req, step_id, urls), _not_queued_fallback)


@bp.post("/menu/<step_id>")
@twilio_signed
def menu(step_id: str) -> Response:
    return _answer(lambda req, urls: voice_service().menu(req, step_id, urls), _not_queued_fallback)


@bp.post("/dial/<step_id>")
@twilio_signed
def dial_result(step_id: str) -> Response:
    return _answer(lambda req, urls: voice_service().dial_result(req, step_id, urls), _not_queued_fallback)


@bp.post("/wait")
@twilio_signed
def wait() -> Response:
    return _answer(lambda req, urls: voice_service().wait(req, urls), _in_queue_fallback)


@bp.post("/offer")
@twilio_signed
def offer() -> Response:
    return _answer(lambda req, urls: voice_service().offer(req, urls), _in_queue_fallback)


# The deflection dialogue inside the queue: one handler, the stage is in the path.
DEFLECTION_STAGES = {
    "consent": "consent",
    "number-entry": "number_entry",
    "number-confirm": "number_confirm",
    "sending": "sending",
}


@bp.post('/<any(consent, "number-entry", "number-confirm", sending):stage>')
@twilio_signed
def deflection(stage: str) -> Response:
    name = DEFLECTION_STAGES[stage]
    return _answer(lambda req, urls: voice_service().deflection_step(name, req, urls), _in_queue_fallback)


@bp.post("/queue-result")
@twilio_signed
def queue_result() -> Response:
    def fallback(urls: WebhookUrls) -> VoiceResponse:
        # The caller is out of the queue; put them back unless the call is already elsewhere.
        result = request.form.get("QueueResult", "")
        if result in ("error", "system-error", "queue-full", ""):
            return _not_queued_fallback(urls)
        return twiml.empty()

    return _answer(lambda req, urls: voice_service().queue_result(req, urls), fallback)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    try:
        voice_service().status(VoiceRequest.from_form(request.form.to_dict()))
    except BadRequest as exc:
        return Response(f"{exc}\n", status=400, mimetype="text/plain")
    except Exception:
        log.exception("status callback not recorded")
    return _twiml(twiml.empty())
