"""The accept step: the caller pressed 1 at the consent question. Checked once more at the last moment,
then the consent, the chat session and the outbox row are written in ONE transaction and the SMS job is
queued (`gateway.deflection.outbox` sends it, exactly once).

- One press per offer: a retried Gather POST of the same press finds the first one sending it.
- The messaging pause, the range pauses and every SMS pumping limit are re-checked atomically inside
  the claim (`SmsGuard.claim`); attestation is re-checked just before it. An offer heard just before an
  admin paused sends nothing.
- If the transaction fails, nothing was recorded, so nothing will be sent: the claim is given back.
- The events that record the acceptance (consent granted, SMS queued, a range paused) are written in the
  same transaction: whatever fails after it (keeping the call's state in Redis, a failover), the
  reports count every SMS that is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.channels import written_names
from gateway.deflection.chats import ChannelAccounts, open_chat, sms_link
from gateway.deflection.consent import ConsentGiven, record_consent
from gateway.deflection.eligibility import Policy, attestation_refusal, keyed_number_attestation_refusal
from gateway.deflection.guards import Guards
from gateway.deflection.limits import RangePause
from gateway.deflection.outbox import outbox_id_for
from gateway.deflection.story import CallContext
from gateway.events import Event
from gateway.flows.model import Flow
from gateway.flows.state import CallState
from gateway.logs import mask_number
from gateway.messaging.templates import RenderedMessage, TemplateSet
from gateway.store.call_log import add_events
from gateway.store.db import Database
from gateway.store.models import SmsOutbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageSetup:
    """What composing the SMS needs, from settings (the texts are the call's: see `accept`)."""

    accounts: ChannelAccounts
    brand: str
    link_mode: str
    link_base: str  # the configured public base; the dialogue passes the request's own
    session_lifetime: timedelta


@dataclass(frozen=True)
class Acceptance:
    """What the caller agreed to, and the call as the chat session will remember it."""

    offer_key: str
    consent: ConsentGiven
    locale: str
    queue: str | None
    context: CallContext
    channels: list[str]
    sms_template: str


@dataclass(frozen=True)
class Accepted:
    outbox_id: int
    events: list[Event]


@dataclass(frozen=True)
class NotAccepted:
    """`refused`: a rule said no (say why, in words the caller can act on); `failed`: it could not be
    recorded; `repeated`: the same press posted again, the first one is sending the SMS."""

    kind: str  # refused | failed | repeated
    reason: str


class OfferAcceptance:
    def __init__(
        self,
        guards: Guards,
        policy_for: Callable[[Flow], Policy],
        setup: MessageSetup,
        sms_texts: Callable[[str, Mapping[str, int]], TemplateSet],
        enqueue_send: Callable[[int], None],
        database: Database,
    ) -> None:
        self.guards = guards
        self.policy_for = policy_for
        self.setup = setup
        self.sms_texts = sms_texts  # (locale, the versions a call pinned) -> the texts
        self.enqueue_send = enqueue_send
        self.database = database

    def accept(
        self, flow: Flow, state: CallState, digit: str, now: float, *, position: int | None, link_base: str
    ) -> Accepted | NotAccepted:
        """The consent key for the offer in `state` (its number, prompt and channels already set).
        `link_base`: where callers reach us (the SMS link points there)."""
        deflection = state.deflection
        offer_key = f"{state.call_sid}:{deflection.offer_number}"
        deflection.offer_key = offer_key
        if not self.guards.first_press(offer_key):
            return NotAccepted("repeated", "consent.repeated")
        assert deflection.number is not None  # the consent question was asked for a number
        policy = self.policy_for(flow)
        refusal = attestation_refusal(deflection.stir_verstat, policy) or (
            keyed_number_attestation_refusal(deflection.stir_verstat, policy) if deflection.keyed else None
        )
        if refusal:
            return NotAccepted("refused", refusal)
        claim = self.guards.sms_guard.claim(
            deflection.number, now, caller=state.caller, keyed=deflection.keyed
        )
        if claim.refusal:
            return NotAccepted("refused", claim.refusal)
        acceptance = self._acceptance(flow, state, digit, now, position)
        paused = [_range_paused(pause, deflection.number, offer_key) for pause in claim.tripped]
        try:
            outbox_id = accept_offer(
                self.database,
                acceptance,
                replace(self.setup, link_base=link_base),
                self.sms_texts(flow.locale, state.content),
                datetime.fromtimestamp(now, UTC),
                also=paused,
            )
        except Exception:
            # Nothing was recorded (one transaction), so nothing will be sent: say so, keep the place.
            log.exception("offer %s could not be recorded", offer_key)
            self.guards.sms_guard.release(claim)
            self.guards.forget_press(offer_key)
            return NotAccepted("failed", "sms.not_recorded")
        try:
            self.enqueue_send(outbox_id)
        except Exception:  # the row is committed: the outbox sweeper sends it within a minute
            log.exception("outbox %d recorded but not enqueued; the sweeper will send it", outbox_id)
        # Already stored with the acceptance; the call log finds them there by their keys.
        return Accepted(outbox_id, [*acceptance_events(acceptance, outbox_id), *paused])

    def _acceptance(
        self, flow: Flow, state: CallState, digit: str, now: float, position: int | None
    ) -> Acceptance:
        deflection = state.deflection
        assert deflection.offer_key is not None and deflection.number is not None
        return Acceptance(
            offer_key=deflection.offer_key,
            consent=ConsentGiven(
                offer_key=deflection.offer_key,
                number=deflection.number,
                call_sid=state.call_sid,
                flow_id=flow.id,
                flow_version=flow.version,
                prompt_version=deflection.prompt_version,
                prompt_text=deflection.prompt,
                channel="sms",
                key_pressed=digit,
            ),
            locale=flow.locale,
            queue=state.queue,
            context=CallContext(
                call_sid=state.call_sid,
                caller=state.caller,
                called=state.called,
                flow_id=flow.id,
                flow_version=flow.version,
                locale=flow.locale,
                queue=state.queue,
                menu_path=list(state.path),
                choices=list(state.choices),
                waited_seconds=round(state.seconds_in_queue(now)),
                # Twilio sends QueuePosition to the waitUrl only: the place the wait loop last saw.
                position=position or state.queue_position,
                keyed_number=deflection.keyed,
            ),
            channels=self.setup.accounts.available(deflection.channels) or ["whatsapp"],
            sms_template=deflection.sms_template,
        )


def accept_offer(
    database: Database,
    acceptance: Acceptance,
    setup: MessageSetup,
    texts: TemplateSet,
    now: datetime,
    *,
    also: Sequence[Event] = (),
) -> int:
    """Record consent, open the session and queue the SMS, with the events that say so (and `also`),
    in one transaction. Returns the outbox id; calling it again for the same offer returns the same id
    and writes nothing."""
    for _ in range(5):
        existing = outbox_id_for(database, acceptance.offer_key)
        if existing is not None:
            return existing
        try:
            with database.session() as session:
                outbox_id = _write_acceptance(session, acceptance, setup, texts, now)
                events = [*acceptance_events(acceptance, outbox_id), *also]
                add_events(session, acceptance.consent.call_sid, events, now.timestamp())
                return outbox_id
        except IntegrityError:
            # Either this offer was accepted meanwhile (found above next time), or another consent
            # took the ledger's head first: both resolve on retry.
            continue
    raise RuntimeError(f"offer {acceptance.offer_key} could not be recorded")


def acceptance_events(acceptance: Acceptance, outbox_id: int) -> list[Event]:
    """What an acceptance records on its call, keyed by the offer: stored once, however often recorded."""
    key = acceptance.offer_key
    return [
        Event("consent.granted", {"keyed_number": acceptance.context.keyed_number}, key=key),
        Event("sms.queued", {"outbox_id": outbox_id}, key=key),
    ]


def _write_acceptance(
    session: Session, acceptance: Acceptance, setup: MessageSetup, texts: TemplateSet, now: datetime
) -> int:
    consent = record_consent(session, acceptance.consent, now)
    chat = open_chat(
        session,
        call_sid=acceptance.consent.call_sid,
        number=acceptance.consent.number,
        flow_id=acceptance.consent.flow_id,
        flow_version=acceptance.consent.flow_version,
        locale=acceptance.locale,
        queue=acceptance.queue,
        context=replace(acceptance.context, consent_id=consent.id).to_json(),
        channels=acceptance.channels,
        consent_id=consent.id,
        now=now,
        lifetime=setup.session_lifetime,
    )
    message = compose_sms(
        texts,
        setup,
        SmsFacts(
            locale=acceptance.locale,
            sms_template=acceptance.sms_template,
            reference=chat.reference,
            link_token=chat.link_token,
            channels=tuple(acceptance.channels),
            queue=acceptance.queue,
            minutes_waited=(acceptance.context.waited_seconds or 0) // 60,
        ),
    )
    row = SmsOutbox(
        offer_key=acceptance.offer_key,
        session_id=chat.id,
        call_sid=chat.call_sid,
        to=chat.number,
        body=message.body,
        encoding=message.segments.encoding,
        segments=message.segments.segments,
        status="pending",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True)
class SmsFacts:
    """What one offer's SMS says besides the setup: the session it leads to, the call it continues."""

    locale: str
    sms_template: str
    reference: str
    link_token: str
    channels: tuple[str, ...]  # the offered channels that are configured, in order
    queue: str | None
    minutes_waited: int


def compose_sms(texts: TemplateSet, setup: MessageSetup, facts: SmsFacts) -> RenderedMessage:
    """The SMS of an accepted offer: its link in the configured link mode, then its text rendered, with
    its encoding and segments. The acceptance calls it with the session it has just opened, and
    `deflect templates preview` with sample values, so a preview is exactly what would be sent."""
    link = sms_link(
        facts.channels,
        setup.accounts,
        setup.brand,
        locale=facts.locale,
        reference=facts.reference,
        link_token=facts.link_token,
        link_mode=setup.link_mode,
        link_base=setup.link_base,
    )
    return texts.render(
        facts.locale,
        facts.sms_template,
        link=link,
        reference=facts.reference,
        brand=setup.brand,
        queue=facts.queue or "",
        minutes_waited=facts.minutes_waited,
        channels=written_names(facts.channels),
    )


def _range_paused(pause: RangePause, number: str, offer_key: str) -> Event:
    """This SMS tripped a range: one alert line (numbers masked), and a durable event on this call."""
    log.warning(
        "SMS pumping trip: %d SMS to %s %s within %d s (the last to %s); offers to it are paused until "
        "%s UTC. `deflect messaging status` lists range pauses; `deflect messaging resume --range` lifts one",
        pause.count,
        pause.kind,
        mask_number(pause.range) if pause.kind == "prefix" else pause.range,
        pause.window_seconds,
        mask_number(number),
        datetime.fromtimestamp(pause.until, UTC).strftime("%Y-%m-%d %H:%M"),
    )
    return Event("sms.range_paused", pause.__dict__.copy(), key=f"{offer_key}:{pause.kind}:{pause.range}")
