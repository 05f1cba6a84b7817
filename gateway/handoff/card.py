"""The context card: a signed, expiring link (`/card/<token>`) that shows an agent on any desk the call's
story in one click, without another login, and the card's content, built from the database.

The token is an itsdangerous timed signature over `{"s": session_id}` (a chat matched to a call) or
`{"i": inbound_id}` (a chat without a call); it carries ids only, never personal data. The card shows
only what the agent needs: no consent prompt text, and the number masked to its last four digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.handoff.story import NO_CALL, CallStory, call_started_at, story_of
from gateway.locales import label_language
from gateway.store.models import Chat, ConsentRecord, InboundMessage

SALT = "context-card"
DEFAULT_TIME_ZONES = {"ru": "Europe/Moscow"}
BULLET = "•"

TokenState = Literal["ok", "invalid", "expired"]


@dataclass(frozen=True)
class CardRef:
    """What a card link points at: a chat session, an inbound message, or both."""

    session_id: int | None = None
    inbound_id: int | None = None


class _SignedAt(TimestampSigner):
    """itsdangerous' timed signer on our clock instead of its own `time.time()`."""

    def __init__(self, *args: Any, now: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = int(now)

    def get_timestamp(self) -> int:
        return self._now


def _serializer(secret_key: str, now: float) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT, signer=_SignedAt, signer_kwargs={"now": now})


def card_token(
    secret_key: str, *, now: float, session_id: int | None = None, inbound_id: int | None = None
) -> str:
    """The token for a card, signed at `now` (unix seconds); at least one id is needed."""
    if session_id is None and inbound_id is None:
        raise ValueError("a context card needs a session_id or an inbound_id")
    data: dict[str, int] = {}
    if session_id is not None:
        data["s"] = int(session_id)
    if inbound_id is not None:
        data["i"] = int(inbound_id)
    return _serializer(secret_key, now).dumps(data)


def card_url(
    base_url: str,
    secret_key: str,
    *,
    now: float,
    session_id: int | None = None,
    inbound_id: int | None = None,
) -> str:
    """The card link for a matched chat (`session_id`) or an unmatched one (`inbound_id`)."""
    token = card_token(secret_key, now=now, session_id=session_id, inbound_id=inbound_id)
    return f"{base_url.rstrip('/')}/card/{token}"


@dataclass(frozen=True)
class CardLinks:
    """Card links of this installation: its public base URL, its key, its clock."""

    base_url: str
    secret_key: str
    clock: Clock

    def url(self, *, session_id: int | None = None, inbound_id: int | None = None) -> str:
        return card_url(
            self.base_url,
            self.secret_key,
            now=self.clock.time(),
            session_id=session_id,
            inbound_id=inbound_id,
        )


def check_card_token(
    secret_key: str, token: str, max_age_seconds: int, now: float
) -> tuple[TokenState, CardRef | None]:
    """("ok", ref), ("expired", None) for a genuine link older than `max_age_seconds` at `now`,
    ("invalid", None) for anything else."""
    try:
        data: Any = _serializer(secret_key, now).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        return "expired", None
    except (BadSignature, ValueError, UnicodeError):
        return "invalid", None
    if not isinstance(data, dict):
        return "invalid", None
    ids = {key: data.get(key) for key in ("s", "i")}
    if not any(isinstance(v, int) and not isinstance(v, bool) for v in ids.values()):
        return "invalid", None
    if any(v is not None and (not isinstance(v, int) or isinstance(v, bool)) for v in ids.values()):
        return "invalid", None
    return "ok", CardRef(session_id=ids["s"], inbound_id=ids["i"])


def read_card_token(secret_key: str, token: str, max_age_seconds: int, now: float) -> CardRef | None:
    """The card's ids, or None when the token is forged, damaged or older than `max_age_seconds`."""
    return check_card_token(secret_key, token, max_age_seconds, now)[1]


@dataclass(frozen=True)
class ConsentFacts:
    """That the caller agreed, when, and with which key (not the prompt's words)."""

    at: datetime
    key: str | None
    channel: str


@dataclass(frozen=True)
class ContextCard:
    """What the card page shows (and its JSON carries). `call_sid` is for the JSON only."""

    language: str  # ru | en: the labels' language
    reference: str | None
    channel: str | None
    called_at: datetime | None
    time_zone: str
    queue: str | None
    menu_choices: list[str] = field(default_factory=list)
    waited_seconds: int | None = None
    position: int | None = None
    locale: str | None = None
    consent: ConsentFacts | None = None
    match: str | None = None
    flagged: str | None = None
    number_masked: str | None = None
    call_sid: str | None = None

    @property
    def minutes_waited(self) -> int | None:
        return None if self.waited_seconds is None else round(self.waited_seconds / 60)

    @property
    def called_at_local(self) -> str | None:
        return format_local(self.called_at, self.time_zone, self.language)

    @property
    def consent_at_local(self) -> str | None:
        return format_local(self.consent.at, self.time_zone, self.language) if self.consent else None

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "channel": self.channel,
            "called_at": _iso(self.called_at),
            "called_at_local": self.called_at_local,
            "time_zone": self.time_zone,
            "queue": self.queue,
            "menu_choices": list(self.menu_choices),
            "waited_seconds": self.waited_seconds,
            "minutes_waited": self.minutes_waited,
            "position": self.position,
            "locale": self.locale,
            "consent": None
            if self.consent is None
            else {
                "given": True,
                "at": _iso(self.consent.at),
                "key": self.consent.key,
                "channel": self.consent.channel,
            },
            "match": self.match,
            "flagged": self.flagged,
            "number_masked": self.number_masked,
            "call_sid": self.call_sid,
        }


def build_card(
    story: CallStory,
    *,
    time_zone: str,
    channel: str | None = None,
    match: str | None = None,
    flagged: str | None = None,
    consent: ConsentFacts | None = None,
    number: str | None = None,
    language: str | None = None,
) -> ContextCard:
    """The card from the call's story and the chat's facts (`number`: the call's number, else the
    chat's address; only its mask is kept)."""
    called = _parse_iso(story.called_at)
    return ContextCard(
        language=language or label_language(story.locale),
        reference=story.reference,
        channel=channel,
        called_at=called,
        time_zone=time_zone,
        queue=story.queue,
        menu_choices=list(story.menu_choices),
        waited_seconds=story.waited_seconds,
        position=story.position,
        locale=story.locale,
        consent=consent,
        match=match,
        flagged=flagged,
        number_masked=shown_number(story.caller or number),
        call_sid=story.call_sid,
    )


def load_card(
    session: Session,
    ref: CardRef,
    *,
    time_zone_for: Callable[[str | None, str | None], str] | None = None,
    fallback_language: str = "en",
) -> ContextCard | None:
    """The card for `ref`, read from the database; None when neither the session nor the message exists
    (deleted by retention, or an id from another database). `time_zone_for(flow_id, locale)` names the
    contact centre's zone (default: by locale); a chat without a call has no locale, so its labels are
    in `fallback_language`."""
    chat = session.get(Chat, ref.session_id) if ref.session_id is not None else None
    inbound = session.get(InboundMessage, ref.inbound_id) if ref.inbound_id is not None else None
    if chat is None and inbound is not None and inbound.session_id is not None:
        chat = session.get(Chat, inbound.session_id)
    if chat is None and inbound is None:
        return None
    zone_for = time_zone_for or (lambda flow_id, locale: default_time_zone(locale))
    if chat is not None and inbound is None:
        first = select(InboundMessage).where(InboundMessage.session_id == chat.id).order_by(InboundMessage.id)
        inbound = session.scalar(first.limit(1))
    if chat is None:
        assert inbound is not None
        return build_card(
            NO_CALL,
            time_zone=zone_for(None, None),
            channel=inbound.channel,
            match=inbound.match,
            flagged=inbound.flagged,
            number=inbound.sender,
            language=fallback_language,
        )
    record = session.get(ConsentRecord, chat.consent_id)
    consent = (
        ConsentFacts(at=record.at, key=record.key_pressed, channel=record.channel)
        if record is not None and record.kind == "granted"
        else None
    )
    offered = (chat.channels or {}).get("offered") or []
    return build_card(
        story_of(chat, call_started_at(session, chat)),
        time_zone=zone_for(chat.flow_id, chat.locale),
        channel=inbound.channel if inbound else ", ".join(offered) or None,
        match=inbound.match if inbound else None,
        flagged=inbound.flagged if inbound else None,
        consent=consent,
    )


def default_time_zone(locale: str | None) -> str:
    """Moscow for Russian flows, UTC otherwise (used when the flow names no zone)."""
    return DEFAULT_TIME_ZONES.get(label_language(locale), "UTC")


def shown_number(number: str | None) -> str | None:
    """`+79161234567` -> `+7 ••• ••• 45 67`: enough to tell two numbers apart, not enough to dial."""
    if not number:
        return None
    plain = number.split(":", 1)[1] if number.startswith(("whatsapp:", "sms:", "viber:")) else number
    if plain.startswith("tg:"):
        return "Telegram " + BULLET * 3 + plain[-4:] if len(plain) > 7 else "Telegram"
    try:
        parsed = phonenumbers.parse(plain, None)
        country, national = str(parsed.country_code), phonenumbers.national_significant_number(parsed)
    except phonenumbers.NumberParseException:
        country, national = "", "".join(ch for ch in plain if ch.isdigit())
    if len(national) <= 4:
        return (f"+{country} " if country else "") + BULLET * 4
    hidden = len(national) - 4
    groups = [BULLET * min(3, hidden - i) for i in range(0, hidden, 3)]
    shown = f"{national[-4:-2]} {national[-2:]}"
    return " ".join(([f"+{country}"] if country else []) + groups + [shown])


_MONTHS_RU = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_local(moment: datetime | None, time_zone: str, language: str) -> str | None:
    """`24 ноября 2026, 12:04 (Europe/Moscow)` / `24 Nov 2026, 12:04 (Europe/Moscow)`."""
    if moment is None:
        return None
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, time_zone = ZoneInfo("UTC"), "UTC"
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    month = (_MONTHS_RU if language == "ru" else _MONTHS_EN)[local.month - 1]
    return f"{local.day} {month} {local.year}, {local:%H:%M} ({time_zone})"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
