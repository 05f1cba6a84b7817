"""`deflect simulate`: a call played in the terminal, through the real webhooks (signed like Twilio's),
with a simulated clock for time in queue. The fastest way for an admin to try a flow.

It reads the TwiML each webhook returns and does what Twilio would: says the <Say> texts, asks for keys
(or words, where the <Gather> listens for speech) at a <Gather>, follows <Redirect>, loops the waitUrl
while queued (at the position and average wait given), reports <Leave>, <Dial>, <Hangup>.

A script is one item per prompt: digits, nothing (no input), `s:words` (spoken), `wN` (wait N seconds
in the queue), `a` (an agent answers), `q` (hang up).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from gateway.clock import ManualClock

WAIT_PASS_SECONDS = 30  # what one pass of hold music stands for in the simulation
MAX_REQUESTS = 500
SPEECH_PREFIX = "s:"
SPEECH_CONFIDENCE = "0.92"
_CONTINUE = object()


class Simulator:
    def __init__(
        self,
        app: Any,
        *,
        caller: str,
        called: str | None,
        echo: Callable[[str], None],
        ask: Callable[[str], str],
        base_url: str,
        position: int = 3,
        avg_wait: int = 300,
    ) -> None:
        self.app = app
        self.client = app.test_client()
        self.services = app.extensions["deflect"]
        clock = self.services.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("the simulator moves time itself: build the app with a ManualClock")
        self.clock: ManualClock = clock
        flows = self.services.registry.flows(drafts=self.services.voice.play_drafts)
        self.called = called or (flows.default.numbers[0] if flows.default.numbers else "+10000000000")
        self.caller = caller
        self.call_sid = "CA" + secrets.token_hex(16)
        self.echo = echo
        self.ask = ask
        # Where the webhooks are "reached": the links in the SMS are made from it, so it is the
        # address of the running server (PUBLIC_BASE_URL, or `deflect serve`'s own).
        self.base_url = base_url.rstrip("/")
        self.position = position
        self.avg_wait = avg_wait
        self.script: list[str] | None = None
        self.queued_since: float | None = None
        self.queue_action = "/twilio/voice/queue-result"

    def run(self, script: list[str] | None = None) -> None:
        self.script = list(script) if script is not None else None
        self.echo(f"Calling {self.called} from {self.caller} (CallSid {self.call_sid})")
        url, params = "/twilio/voice/incoming", dict[str, str]()
        for _ in range(MAX_REQUESTS):
            next_step = self._play(self._post(url, params))
            if next_step is None:
                break
            url, params = next_step
        if not self.services.queue.count:
            self.services.queue.delete()
        self.echo("-- call ended")

    def _next_keys(self, prompt: str) -> str:
        if self.script is None:
            return self.ask(prompt)
        if not self.script:
            return "q"
        keys = self.script.pop(0).strip()
        self.echo(f"{prompt} {keys}")
        return keys

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

    def _play(self, root: ET.Element) -> tuple[str, dict[str, str]] | None:
        handlers: dict[str, Callable[[ET.Element], Any]] = {
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
            result = handlers.get(verb.tag, self._unknown)(verb)
            if result is _CONTINUE:
                continue
            return result  # type: ignore[no-any-return]
        if self.queued_since is not None:  # the waitUrl document ended: Twilio requests it again
            return self._wait_again()
        return None

    def _say(self, verb: ET.Element) -> object:
        self.echo(f"  🔊 {verb.text}")
        return _CONTINUE

    def _music(self, _verb: ET.Element) -> object:
        self.echo("  ♪ hold music")
        return _CONTINUE

    def _pause(self, verb: ET.Element) -> object:
        self.clock.advance(float(verb.attrib.get("length", "1")))
        return _CONTINUE

    def _unknown(self, verb: ET.Element) -> object:
        self.echo(f"  ? <{verb.tag}>")
        return _CONTINUE

    def _gather(self, verb: ET.Element) -> object:
        for inner in verb:
            if inner.tag == "Say":
                self._say(inner)
        listens = "speech" in verb.attrib.get("input", "dtmf").split()
        keys = self._next_keys(f"  keys (Enter: none{', s:words: speak' if listens else ''}) >")
        if keys == "q":
            self._hang_up()
            return None
        if keys.startswith(SPEECH_PREFIX):
            if not listens:  # Twilio would not even listen: as if nothing was said
                self.echo("  (this prompt takes keys only)")
                return _CONTINUE
            words = keys[len(SPEECH_PREFIX) :].strip()
            return verb.attrib["action"], {"SpeechResult": words, "Confidence": SPEECH_CONFIDENCE}
        if keys:
            return verb.attrib["action"], {"Digits": keys.rstrip("#")}
        return _CONTINUE

    def _redirect(self, verb: ET.Element) -> object:
        self._run_jobs()
        return verb.text or "", {}

    def _enqueue(self, verb: ET.Element) -> object:
        self.echo(f"  ⏳ waiting in queue '{verb.text}'")
        self.queued_since = self.clock.time()
        self.queue_action = verb.attrib["action"]
        return verb.attrib["waitUrl"], self._queue_params()

    def _leave(self, _verb: ET.Element) -> object:
        self.echo("  ↪ leaves the queue")
        return self.queue_action, {"QueueResult": "leave"}

    def _dial(self, verb: ET.Element) -> object:
        self.echo(f"  ☎ dialling {''.join(verb.itertext()).strip()}")
        return verb.attrib["action"], {"DialCallStatus": "completed"}

    def _hangup_verb(self, _verb: ET.Element) -> object:
        self.echo("  ✆ hangs up")
        return None

    def _wait_again(self) -> tuple[str, dict[str, str]] | None:
        keys = self._next_keys(
            f"  [{self._waited()}s in queue] Enter: keep waiting {WAIT_PASS_SECONDS}s,"
            " wN: wait N s, a: an agent answers, q: hang up >"
        )
        if keys == "q":
            self._hang_up()
            return None
        if keys == "a":
            self.echo("  ✔ an agent answers")
            return self.queue_action, {"QueueResult": "bridged"}
        self.clock.advance(
            float(keys[1:]) if keys.startswith("w") and keys[1:].isdigit() else WAIT_PASS_SECONDS
        )
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

    def _hang_up(self) -> None:  # returns None: the call is over
        if self.queued_since is not None:
            self._post(self.queue_action, {"QueueResult": "hangup"})
        self._post("/twilio/voice/status", {"CallStatus": "completed"})
        return None

    def _run_jobs(self) -> None:
        """Send queued SMS now (no separate worker needed to try a flow)."""
        from rq import SimpleWorker

        from gateway import jobs

        queue = self.services.queue
        if queue.count:
            with jobs.running_with(self.services):
                SimpleWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
