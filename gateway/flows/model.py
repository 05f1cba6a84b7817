"""The flow model: what an IVR flow file may say, as pydantic v2 models (unknown fields are errors).

`render_schema()` gives the published JSON Schema, `gateway/flows/schema.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.channels import WRITTEN_NAMES
from gateway.flows import schedule
from gateway.flows.fields import (
    E164,
    Channel,
    Digit,
    Holiday,
    HttpUrl,
    NumberType,
    Prompt,
    QueueName,
    Region,
    SipUri,
    StepId,
    check_days,
    check_intervals,
    check_placeholders,
    check_timezone,
)

DEFAULT_HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"


def _default_channels() -> list[Channel]:
    return ["whatsapp"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Model):
    """Opening hours in the contact centre's own time zone."""

    timezone: Annotated[str, AfterValidator(check_timezone)] = Field(
        description="IANA time zone name, e.g. Europe/Moscow"
    )
    weekly: dict[
        Annotated[str, AfterValidator(check_days)], Annotated[str, AfterValidator(check_intervals)]
    ] = Field(
        description="day or day range -> '09:00-20:00', '09:00-13:00, 14:00-18:00' or 'closed'; "
        "days not listed are closed",
        examples=[{"mon-fri": "09:00-20:00"}],
    )
    holidays: list[Holiday] = Field(
        default_factory=list, description="closed dates: 2027-01-07 or 2027-01-01..2027-01-08"
    )

    @field_validator("weekly")
    @classmethod
    def _days_once(cls, weekly: dict[str, str]) -> dict[str, str]:
        schedule.parse_weekly(weekly)
        return weekly


class SayStep(_Model):
    """Say a text (or play an audio file) and go on to the next step in the same response."""

    kind: Literal["say"]
    text: Prompt | None = None
    play: HttpUrl | None = None
    next: StepId

    @model_validator(mode="after")
    def _one_of(self) -> SayStep:
        if (self.text is None) == (self.play is None):
            raise ValueError("give either 'text' or 'play'")
        return self


class MenuOption(_Model):
    """One keypad choice of a menu."""

    next: StepId
    label: str | None = Field(default=None, description="short name for reports and the agent")
    speech: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="words (or word stems) that choose this option by voice"
    )


class MenuStep(_Model):
    """Ask the caller to press a key (or say a word) and branch on the answer."""

    kind: Literal["menu"]
    prompt: Prompt
    options: dict[Digit, MenuOption] = Field(
        min_length=1, description="keypad digit -> option; quote '*' and '#' in YAML"
    )
    timeout: int = Field(default=5, ge=1, le=60, description="seconds to wait for a key")
    retries: int = Field(default=2, ge=0, le=5, description="repeats after no or invalid input")
    reprompt: Prompt | None = Field(default=None, description="said before the prompt is repeated")
    no_input: StepId = Field(description="step once retries are used up without input")
    invalid: StepId | None = Field(
        default=None, description="step once retries are used up on invalid input (default: no_input)"
    )
    speech: bool = Field(default=False, description="also accept spoken answers")


VARIANT_OVERRIDES = ("after_seconds", "min_position", "max_offers", "repeat_every", "prompt", "timeout")
"""The offer's fields a variant of an experiment may change; the rest (channels, SMS...) stay the offer's."""


def check_offer_prompt(prompt: str, channels: Sequence[str]) -> None:
    """An offer's prompt says {channels}, or names exactly the messengers the offer makes."""
    check_placeholders(prompt, {"channels"})
    named = {c for c, name in WRITTEN_NAMES.items() if name.lower() in prompt.lower()}
    if named and named != set(channels):
        raise ValueError(
            f"the prompt names {', '.join(sorted(WRITTEN_NAMES[c] for c in named))} but the offer's "
            f"channels are {', '.join(channels)}: say {{channels}} instead, and the caller hears "
            "the messengers they are really offered"
        )


class OfferVariant(_Model):
    """One arm of an offer experiment: the share of callers it gets and what it changes in the offer
    (fields left out are the offer's own). Callers are split by a hash of their CallSid."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64, examples=["early", "late"])]
    share: int = Field(ge=1, le=100, description="percent of the callers; the variants' shares sum to 100")
    after_seconds: int | None = Field(default=None, ge=0)
    min_position: int | None = Field(
        default=None, ge=1, description="null here turns the offer's min_position off for this variant"
    )
    max_offers: int | None = Field(default=None, ge=1, le=10)
    repeat_every: int | None = Field(default=None, ge=15)
    prompt: Prompt | None = Field(default=None, description="checked as the offer's prompt is")
    timeout: int | None = Field(default=None, ge=1, le=30)

    @model_validator(mode="after")
    def _no_null_overrides(self) -> OfferVariant:
        for name in VARIANT_OVERRIDES:
            if name != "min_position" and name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"'{name}' cannot be null (leave it out to keep the offer's)")
        return self

    def overrides(self) -> dict[str, Any]:
        """The offer fields this variant changes, with their values."""
        return {name: getattr(self, name) for name in VARIANT_OVERRIDES if name in self.model_fields_set}


class Offer(_Model):
    """When to offer the caller on hold to continue in a messenger (eligibility is not ours)."""

    after_seconds: int = Field(default=45, ge=0, description="offer once the caller has waited this long")
    min_position: int | None = Field(
        default=None, ge=1, description="also offer as soon as the queue position is at least this"
    )
    max_offers: int = Field(default=1, ge=1, le=10)
    repeat_every: int = Field(default=120, ge=15, description="seconds between two offers")
    prompt: Prompt = Field(
        description="uses {channels}: the offered messengers that are configured, said as a choice"
    )
    accept_digit: Digit = "1"
    timeout: int = Field(default=5, ge=1, le=30, description="seconds to wait for the key")
    channels: list[Channel] = Field(
        default_factory=_default_channels, min_length=1, description="in order of preference"
    )
    sms_template: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    variants: list[OfferVariant] | None = Field(
        default=None,
        description="an experiment: two or more variants of this offer, callers split by their shares",
    )

    @field_validator("variants")
    @classmethod
    def _experiment(
        cls, variants: list[OfferVariant] | None, info: ValidationInfo
    ) -> list[OfferVariant] | None:
        if variants is None:
            return None
        if len(variants) < 2:
            raise ValueError("an experiment needs at least 2 variants (leave 'variants' out for none)")
        ids = [v.id for v in variants]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"variant id {', '.join(repr(i) for i in twice)} is used twice")
        total = sum(v.share for v in variants)
        if total != 100:
            shares = " + ".join(str(v.share) for v in variants)
            raise ValueError(f"the variants' shares must sum to 100, not {shares} = {total}")
        channels = info.data.get("channels")
        for v in variants:
            if v.prompt is None:
                continue
            try:
                if channels is None:  # the offer's channels are wrong themselves: said there
                    check_placeholders(v.prompt, {"channels"})
                else:
                    check_offer_prompt(v.prompt, channels)
            except ValueError as exc:
                raise ValueError(f"variant '{v.id}': {exc}") from None
        return variants

    @model_validator(mode="after")
    def _unique_channels(self) -> Offer:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("a channel is listed twice")
        check_offer_prompt(self.prompt, self.channels)
        return self

    def variant(self, variant_id: str | None) -> OfferVariant | None:
        """The variant of this offer's experiment with this id (None: none such, or no experiment)."""
        return next((v for v in self.variants or () if v.id == variant_id), None)

    def for_variant(self, variant_id: str | None) -> Offer:
        """The offer a caller in this variant gets: the variant's fields over the offer's own (the offer
        itself for no variant or an unknown one)."""
        chosen = self.variant(variant_id)
        if chosen is None:
            return self
        return self.model_copy(update=chosen.overrides())


class WaitExperience(_Model):
    """What a caller hears while waiting in a queue (the waitUrl loop)."""

    announce_every: int | None = Field(
        default=None, ge=15, description="seconds between announcements; none: announce once on entry"
    )
    announce_position: bool = False
    announce_ewt: bool = False
    position_text: Prompt | None = Field(default=None, description="uses {position}")
    ewt_text: Prompt | None = Field(default=None, description="uses {minutes}")
    hold_music: HttpUrl | None = Field(default=None, description="overrides the flow's hold_music")
    offer: Offer | None = None

    @model_validator(mode="after")
    def _texts(self) -> WaitExperience:
        if self.announce_position and self.position_text is None:
            raise ValueError("announce_position needs a position_text")
        if self.announce_ewt and self.ewt_text is None:
            raise ValueError("announce_ewt needs an ewt_text")
        if self.position_text is not None:
            check_placeholders(self.position_text, {"position"})
        if self.ewt_text is not None:
            check_placeholders(self.ewt_text, {"minutes"})
        return self


class EnqueueStep(_Model):
    """Put the caller in a named queue; `after` runs if they leave it without reaching an agent."""

    kind: Literal["enqueue"]
    queue: QueueName
    wait: WaitExperience = Field(default_factory=lambda: WaitExperience())
    after: StepId | None = None
    retries: int = Field(default=1, ge=0, le=3, description="re-enqueue attempts after a queue error")
    error_text: Prompt | None = Field(default=None, description="apology said after a queue error")


class TransferStep(_Model):
    """Dial a number or SIP address; `next` runs when nobody answers."""

    kind: Literal["transfer"]
    number: E164 | None = None
    sip: SipUri | None = None
    timeout: int = Field(default=30, ge=5, le=600)
    next: StepId | None = None

    @model_validator(mode="after")
    def _one_of(self) -> TransferStep:
        if (self.number is None) == (self.sip is None):
            raise ValueError("give either 'number' or 'sip'")
        return self


class HangupStep(_Model):
    """Optionally say goodbye, then hang up."""

    kind: Literal["hangup"]
    text: Prompt | None = None


class BranchRule(_Model):
    """All conditions given must hold for `next` to be taken."""

    next: StepId
    open: bool | None = None
    caller_region: list[Region] | None = Field(default=None, min_length=1)
    caller_number_type: list[NumberType] | None = Field(default=None, min_length=1)
    caller_known: bool | None = None
    queue_size_at_least: int | None = Field(default=None, ge=0)
    ewt_seconds_at_least: int | None = Field(default=None, ge=0)
    queue: QueueName | None = Field(
        default=None, description="queue whose size/EWT is compared (default: the caller's queue)"
    )

    @model_validator(mode="after")
    def _has_condition(self) -> BranchRule:
        conditions = (
            self.open,
            self.caller_region,
            self.caller_number_type,
            self.caller_known,
            self.queue_size_at_least,
            self.ewt_seconds_at_least,
        )
        if all(c is None for c in conditions):
            raise ValueError("a 'when' rule needs at least one condition")
        if self.queue is not None and (self.queue_size_at_least, self.ewt_seconds_at_least) == (None, None):
            raise ValueError("'queue' only applies to queue_size_at_least or ewt_seconds_at_least")
        return self


class BranchStep(_Model):
    """Choose the next step by the first matching rule, in order."""

    kind: Literal["branch"]
    when: list[BranchRule] = Field(min_length=1)
    otherwise: StepId


Step = Annotated[
    SayStep | MenuStep | EnqueueStep | TransferStep | HangupStep | BranchStep, Field(discriminator="kind")
]


class Flow(_Model):
    """One IVR flow: the numbers it answers, its hours, and its steps from `entry` on."""

    model_config = ConfigDict(title="IVR flow")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    version: int = Field(default=1, ge=1)
    description: str | None = None
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}-[A-Z]{2}$", examples=["ru-RU", "en-US"])]
    voice: Annotated[str, Field(min_length=1, examples=["Polly.Tatyana", "Google.ru-RU-Standard-A"])]
    numbers: list[E164] = Field(default_factory=list, description="called (To) numbers answered")
    default: bool = Field(default=False, description="answers numbers no other flow claims")
    home_regions: list[Region] = Field(default_factory=list)
    hours: Hours | None = Field(default=None, description="none: always open")
    hold_music: HttpUrl = DEFAULT_HOLD_MUSIC
    entry: StepId
    steps: dict[StepId, Step] = Field(min_length=1)

    @field_validator("voice")
    @classmethod
    def _voice_speaks_locale(cls, voice: str, info: ValidationInfo) -> str:
        google = re.match(r"^Google\.([a-z]{2,3}-[A-Z]{2})-", voice)
        locale = info.data.get("locale")
        if google and locale and google.group(1) != locale:
            raise ValueError(f"voice '{voice}' does not speak the flow's locale {locale}")
        return voice

    @field_validator("numbers")
    @classmethod
    def _numbers_once(cls, numbers: list[str]) -> list[str]:
        if len(set(numbers)) != len(numbers):
            raise ValueError("a number is listed twice")
        return numbers

    def queue_names(self) -> list[str]:
        """Names of the queues this flow can put callers in, in step order."""
        names = [s.queue for s in self.steps.values() if isinstance(s, EnqueueStep)]
        return list(dict.fromkeys(names))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a flow file, as published in gateway/flows/schema.json."""
    body = Flow.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **body}


def render_schema() -> str:
    """The exact text of gateway/flows/schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
