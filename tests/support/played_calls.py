"""Calls played the way Twilio plays them, through a round-robin load balancer in front of several
gateway instances (`LiveClient`s): each call follows the TwiML it is answered with, so a caller who
gets the hold fallback stays on hold (Twilio asks the waitUrl again when the music ends) and goes on
when the gateway can, and one put in the fallback queue before its flow started holds a little, then
hangs up. In the bank flow a caller presses 1 (cards), 2 (a question), accepts the offer (at queue
position 3 it comes at once) and agrees to the SMS, then leaves the queue once it is on its way.

Every answer is kept (`Answer`): valid TwiML or not, and which fallback it was, told apart by the
installation's own fallback hold music and queue (`tests.support.multinode`).
"""

from __future__ import annotations

import itertools
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.support.calls import Call, TwiML
from tests.support.live_client import LiveClient
from tests.support.multinode import FALLBACK_HOLD_MUSIC, FALLBACK_QUEUE

MAX_WEBHOOKS = 40  # per call: a caller who gets nowhere hangs up
HOLDS_BEFORE_HANGING_UP = 12  # waitUrl answers without an offer or news (a caller's patience)
# What the caller keys at each Gather, by the Gather's action path.
KEYS = {"/twilio/voice/menu/main_menu": "1", "/twilio/voice/menu/cards_menu": "2"}
KEYS |= {"/twilio/voice/offer": "1", "/twilio/voice/consent": "1"}


class RoundRobin:
    """A load balancer in front of the gateway instances: each request to the next one. Each thread
    keeps its own HTTP sessions; the rotation is shared."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.turn = itertools.count()
        self.local = threading.local()
        self.served: Counter[int] = Counter()

    def post(self, path: str, **kwargs: Any) -> Any:
        clients = getattr(self.local, "clients", None)
        if clients is None:
            clients = self.local.clients = [LiveClient(port, timeout=30) for port in self.ports]
        index = next(self.turn) % len(self.ports)
        self.served[index] += 1
        return clients[index].post(path, **kwargs)


@dataclass
class Answer:
    path: str
    status: int
    valid: bool  # 200 and a parseable <Response>
    fallback: str  # "", "hold" (the hold music fallback) or "queue" (the fallback queue)
    at: float  # time.monotonic() when it came back


@dataclass
class PlayedCall:
    call_sid: str
    answers: list[Answer] = field(default_factory=list)
    started: bool = False  # the incoming call was answered by its flow
    accepted: bool = False  # the consent key press was answered "sending"
    left: bool = False  # the caller left the queue with the SMS on its way
    statuses: int = 0

    def fallbacks(self) -> int:
        return sum(1 for a in self.answers if a.fallback)


def fallback_kind(twiml: TwiML) -> str:
    if any((e.text or "").strip() == FALLBACK_HOLD_MUSIC for e in twiml.all("Play")):
        return "hold"
    if any((e.text or "").strip() == FALLBACK_QUEUE for e in twiml.all("Enqueue")):
        return "queue"
    return ""


class CallPlayer:
    """One call, played as Twilio plays it: follow each answer's TwiML until the caller hangs up."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.played = PlayedCall(call.call_sid)
        self.wait_url: str | None = None  # set once the caller is in a queue
        self.holds = 0

    def post(self, url: str, **params: str) -> TwiML:
        path = urlsplit(url).path
        try:
            if path == "/twilio/voice/wait":
                twiml = self.call.wait(**params)
            else:
                twiml = self.call.post(path, **params)
        except ET.ParseError:
            twiml = TwiML(0, ET.Element("NotTwiML"), "")
        valid = twiml.status == 200 and twiml.root.tag == "Response"
        answer = Answer(path, twiml.status, valid, fallback_kind(twiml) if valid else "", time.monotonic())
        self.played.answers.append(answer)
        return twiml

    def incoming(self) -> TwiML:
        twiml = self.post("/twilio/voice/incoming")
        self.played.started = self.played.answers[-1].valid and not self.played.answers[-1].fallback
        return twiml

    def enter_queue(self) -> ET.Element:
        """The bank flow up to its queue: 1 (cards), 2 (a question); the <Enqueue> it ends with."""
        twiml = self.incoming()
        for key in ("1", "2"):
            twiml = self.post(twiml.find("Gather").attrib["action"], Digits=key)
        enqueue = twiml.find("Enqueue")
        self.wait_url = enqueue.attrib.get("waitUrl")
        return enqueue

    def play(self) -> PlayedCall:
        twiml = self.incoming()
        while len(self.played.answers) < MAX_WEBHOOKS:
            following = self.next(twiml)
            if following is None:
                break
            twiml = following
        self.hang_up()
        return self.played

    def next(self, twiml: TwiML) -> TwiML | None:
        """The request Twilio makes after this answer, or None when the call ends (or the caller
        hangs up)."""
        if not self.played.answers[-1].valid:
            return None
        verbs = twiml.verbs()
        gathers = twiml.all("Gather")
        if gathers:
            action = gathers[0].attrib.get("action", "")
            key = KEYS.get(urlsplit(action).path)
            if key is not None:
                answer = self.post(action, Digits=key)
                if urlsplit(action).path == "/twilio/voice/consent":
                    self.played.accepted = answer.all("Redirect") != [] and "sending" in answer.text
                return answer
        enqueue = twiml.all("Enqueue")
        if enqueue:
            self.wait_url = enqueue[0].attrib.get("waitUrl")
            return self.post(self.wait_url or "/twilio/voice/wait")
        if "Leave" in verbs:
            self.played.left = True
            self.post("/twilio/voice/queue-result", QueueResult="leave", QueueSid="QU" + "a" * 32)
            self.wait_url = None
            return None
        redirects = twiml.all("Redirect")
        if redirects:
            if "sending" in (redirects[0].text or ""):
                time.sleep(0.3)  # the <Pause> before the next poll, shortened
            return self.post(redirects[0].text or "")
        if self.wait_url is not None:  # hold music only: Twilio asks the waitUrl again when it ends
            self.holds += 1
            if self.holds > HOLDS_BEFORE_HANGING_UP:
                return None
            time.sleep(0.1)
            return self.post(self.wait_url)
        return None

    def hang_up(self) -> None:
        if self.wait_url is not None:
            self.post("/twilio/voice/queue-result", QueueResult="hangup", QueueSid="QU" + "a" * 32)
        self.post("/twilio/voice/status", CallStatus="completed", CallDuration="60")
        self.played.statuses += 1


def caller_number(n: int) -> str:
    """A distinct Russian mobile number per call (the SMS guards refuse a number texted today)."""
    return f"+7916{5000000 + n:07d}"
