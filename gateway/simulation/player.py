"""A call played through the real webhooks (signed like Twilio's), with a simulated clock for time in
queue: the core of `deflect simulate` and of the console's test-call panel.

It reads the TwiML each webhook returns and does what Twilio would: says the <Say> texts, asks for keys
(or words, where the <Gather> listens for speech) at a <Gather>, follows <Redirect>, loops the waitUrl
while queued (at the position and average wait given), reports <Leave>, <Dial>, <Hangup>. What the
caller hears goes to `hear` as `Heard` items; what they answer comes from `inputs`, one item per
prompt: digits, nothing (no input), `s:words` (spoken), `wN` (wait N seconds in the queue), `a` (an
agent answers), `q` (hang up). When `inputs` has nothing more (None), the call stops where it is.
"""

from __future__ import annotations

import logging
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from gateway import jobs
from gateway.clock import ManualClock

log = logging.getLogger(__name__)

WAIT_PASS_SECONDS = 30  # what one pass of hold music stands for in the simulation
MAX_REQUESTS = 500
MAX_JOBS = 100
SPEECH_PREFIX = "s:"
SPEECH_CONFIDENCE = "0.92"
HANG_UP = "q"
AGENT = "a"
WAIT = "w"
NO_NUMBER = "+10000000000"  # the number called when no flow names one (the default flow answers)
VOICE_PATH = "/twilio/voice/"
_CONTINUE = object()


@dataclass(frozen=True)
class Heard:
    """One thing that happened on the line, in order.

    `kind`: say (a <Say>: `text` in `language`), music, unknown (a verb the player does not know, in
    `text`), keys_only (words said where only keys are listened for), queued (`text`: the queue),
    variant (`text`: the offer experiment's variant the call got in that queue), leave, dial (`text`:
    whom), agent (an agent answers), hangup (the flow hangs up), input (what the caller answered:
    `text` as in a script), job_failed (`text`: the job). `stage`: the prompt or the
    webhook the item belongs to ("incoming", "menu", "wait", "offer", "consent", "number-entry"...);
    `asks`: said inside the prompt (the <Gather>) itself: the question, not what came before it.
    """

    kind: str
    text: str = ""
    language: str | None = None
    stage: str = ""
    asks: bool = False


@dataclass(frozen=True)
class Prompt:
    """Where the call waits for the caller: at a <Gather> ("keys"), or in the queue when a pass of hold
    music ended ("queue"), with what the prompt takes."""

    kind: str
    stage: str
    speech: bool = False  # a spoken answer is listened for
    num_digits: int | None = None  # the Gather ends after this many keys
    finish_on_key: str = ""  # ...or at this key
    queued: bool = False
    waited: int = 0  # seconds in the queue so far


Inputs = Callable[[Prompt], str | None]  # the caller's answer at a prompt; None: stop here


class _Stopped(Exception):
    def __init__(self, prompt: Prompt) -> None:
        self.prompt = prompt


def stage_of(url: str) -> str:
    """The part of a voice webhook's path that names it: /twilio/voice/menu/start -> "menu"."""
    path = urlsplit(url).path
    rest = path[len(VOICE_PATH) :] if path.startswith(VOICE_PATH) else path.strip("/")
    return rest.split("/", 1)[0]


class Player:
    def __init__(
        self,
        app: Any,
        *,
        caller: str,
        called: str | None,
        base_url: str,
        hear: Callable[[Heard], None],
        inputs: Inputs,
        position: int = 3,
        avg_wait: int = 300,
    ) -> None:
        self.app = app
        self.client = app.test_client()
        self.services = app.extensions["deflect"]
        clock = self.services.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("the player moves time itself: build the app with a ManualClock")
        self.clock: ManualClock = clock
        flows = self.services.registry.flows(drafts=self.services.voice.play_drafts)
        self.called = called or (flows.default.numbers[0] if flows.default.numbers else NO_NUMBER)
        self.caller = caller
        self.call_sid = "CA" + secrets.token_hex(16)
        self.hear = hear
        self.inputs = inputs
        # Where the webhooks are "reached": the links in the SMS are made from it, so it is the
        # address of the server that opens them.
        self.base_url = base_url.rstrip("/")
        self.position = position
        self.avg_wait = avg_wait
        self.queued_since: float | None = None
        self.queue_action = "/twilio/voice/queue-result"
        self.variant: str | None = None  # the offer experiment's variant, once the call got one

    def run(self) -> Prompt | None:
        """Play the call: None when it ended, else the prompt it stopped at (`inputs` had no more)."""
        url, params = "/twilio/voice/incoming", dict[str, str]()
        stopped: Prompt | None = None
        try:
            for _ in range(MAX_REQUESTS):
                next_step = self._play(self._post(url, params), stage_of(url))
                if next_step is None:
                    break
                url, params = next_step
        except _Stopped as stop:
            stopped = stop.prompt
        if not self.services.queue.count:
            self.services.queue.delete()
        return stopped

    def _input(self, prompt: Prompt) -> str:
        answer = self.inputs(prompt)
        if answer is None:
            raise _Stopped(prompt)
        answer = answer.strip()
        self.hear(Heard("input", answer, stage=prompt.stage))
        return answer

    def _post(self, url: str, params: dict[str, str]) -> ET.Element:
        path = urlsplit(url).path
        data = {
            "CallSid": self.call_sid,
            "AccountSid": "AC" + "0" * 32,
            "From": self.caller,
            "To": self.called,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **params,
        }
        signature = RequestValidator(self.services.settings.signature_token).compute_signature(
            self.base_url + path, data
        )
        response = self.client.post(
            path, data=data, headers={"X-Twilio-Signature": signature}, base_url=self.base_url
        )
        return ET.fromstring(response.get_data(as_text=True))

    def _play(self, root: ET.Element, stage: str) -> tuple[str, dict[str, str]] | None:
        handlers: dict[str, Callable[[ET.Element, str], Any]] = {
            "Say": self._say,
            "Play": self._music,
            "Pause": self._pause,
            "Gather": self._gather,
            "Redirect": self._redirect,
            "Enqueue": self._enqueue,
            "Leave": self._leave,
            "Dial": self._dial,
            "Hangup": self._hangup_verb,
        }
        for verb in root:
            result = handlers.get(verb.tag, self._unknown)(verb, stage)
            if result is _CONTINUE:
                continue
            return result  # type: ignore[no-any-return]
        if self.queued_since is not None:  # the waitUrl document ended: Twilio requests it again
            return self._wait_again()
        return None

    def _say(self, verb: ET.Element, stage: str, asks: bool = False) -> object:
        self.hear(Heard("say", verb.text or "", verb.attrib.get("language"), stage, asks))
        return _CONTINUE

    def _music(self, _verb: ET.Element, stage: str) -> object:
        self.hear(Heard("music", stage=stage))
        return _CONTINUE

    def _pause(self, verb: ET.Element, _stage: str) -> object:
        self.clock.advance(float(verb.attrib.get("length", "1")))
        return _CONTINUE

    def _unknown(self, verb: ET.Element, stage: str) -> object:
        self.hear(Heard("unknown", verb.tag, stage=stage))
        return _CONTINUE

    def _gather(self, verb: ET.Element, _stage: str) -> object:
        stage = stage_of(verb.attrib.get("action", ""))
        for inner in verb:
            if inner.tag == "Say":
                self._say(inner, stage, asks=True)
            elif inner.tag == "Play":
                self._music(inner, stage)
        listens = "speech" in verb.attrib.get("input", "dtmf").split()
        digits = verb.attrib.get("numDigits")
        keys = self._input(
            Prompt(
                "keys",
                stage,
                speech=listens,
                num_digits=int(digits) if digits and digits.isdigit() else None,
                finish_on_key=verb.attrib.get("finishOnKey", "#"),
                queued=self.queued_since is not None,
                waited=self._waited(),
            )
        )
        if keys == HANG_UP:
            self._hang_up()
            return None
        if keys.startswith(SPEECH_PREFIX):
            if not listens:  # Twilio would not even listen: as if nothing was said
                self.hear(Heard("keys_only", stage=stage))
                return _CONTINUE
            words = keys[len(SPEECH_PREFIX) :].strip()
            return verb.attrib["action"], {"SpeechResult": words, "Confidence": SPEECH_CONFIDENCE}
        if keys:
            return verb.attrib["action"], {"Digits": keys.rstrip("#")}
        return _CONTINUE

    def _redirect(self, verb: ET.Element, _stage: str) -> object:
        for failed in run_jobs(self.services):
            self.hear(Heard("job_failed", failed))
        return verb.text or "", {}

    def _enqueue(self, verb: ET.Element, stage: str) -> object:
        self.hear(Heard("queued", verb.text or "", stage=stage))
        state = self.services.voice.states.load(self.call_sid)
        if state is not None and state.variant is not None and state.variant_step == state.step:
            if state.variant != self.variant:
                self.variant = state.variant
                self.hear(Heard("variant", state.variant, stage=stage))
        self.queued_since = self.clock.time()
        self.queue_action = verb.attrib["action"]
        return verb.attrib["waitUrl"], self._queue_params()

    def _leave(self, _verb: ET.Element, stage: str) -> object:
        self.hear(Heard("leave", stage=stage))
        return self.queue_action, {"QueueResult": "leave"}

    def _dial(self, verb: ET.Element, stage: str) -> object:
        self.hear(Heard("dial", "".join(verb.itertext()).strip(), stage=stage))
        return verb.attrib["action"], {"DialCallStatus": "completed"}

    def _hangup_verb(self, _verb: ET.Element, stage: str) -> object:
        self.hear(Heard("hangup", stage=stage))
        return None

    def _wait_again(self) -> tuple[str, dict[str, str]] | None:
        keys = self._input(Prompt("queue", "wait", queued=True, waited=self._waited()))
        if keys == HANG_UP:
            self._hang_up()
            return None
        if keys == AGENT:
            self.hear(Heard("agent", stage="wait"))
            return self.queue_action, {"QueueResult": "bridged"}
        seconds = keys[len(WAIT) :]
        waited = float(seconds) if keys.startswith(WAIT) and seconds.isdigit() else WAIT_PASS_SECONDS
        self.clock.advance(waited)
        return "/twilio/voice/wait", self._queue_params()

    def _queue_params(self) -> dict[str, str]:
        return {
            "QueueSid": "QU" + "0" * 32,
            "QueuePosition": str(self.position),
            "CurrentQueueSize": str(self.position + 2),
            "QueueTime": str(self._waited()),
            "AvgQueueTime": str(self.avg_wait),
        }

    def _waited(self) -> int:
        now = self.clock.time()
        return round(now - (self.queued_since or now))

    def _hang_up(self) -> None:
        if self.queued_since is not None:
            self._post(self.queue_action, {"QueueResult": "hangup"})
        self._post("/twilio/voice/status", {"CallStatus": "completed"})


def run_jobs(services: Any) -> list[str]:
    """Run the jobs waiting in `services`' queue now, in this process, as a worker would but without a
    worker's signal handlers and forks (this may be a web process): the SMS of an accepted offer is
    sent at once. Each job is deleted once run (the queue may be on a running gateway's Redis).
    Returns the names of the jobs that failed."""
    queue = services.queue
    failed: list[str] = []
    with jobs.running_with(services):
        for _ in range(MAX_JOBS):
            if not queue.count:  # (rq's pop_job_id fails on an empty queue)
                break
            job_id = queue.pop_job_id()
            job = queue.fetch_job(job_id)
            if job is None:
                continue
            try:
                job.perform()
            except Exception as exc:
                log.warning("a simulated call's job %s failed (%s)", job.func_name, type(exc).__name__)
                failed.append(job.func_name)
            finally:
                job.delete()
    return failed
