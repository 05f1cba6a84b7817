"""The voice texts of the deflection dialogue as data: what a `voice_texts/<locale>.yaml` file may say
(pydantic models, unknown fields are errors; `render_schema()` is the published JSON Schema), and the
compiled values the dialogue speaks from (`VoiceTexts`, one per locale, each key a `Speech`).

A key is said in one or more parts: text for text-to-speech (in the file's voice, or the flow's), or a
recorded audio URL with its transcript, for a language without a good text-to-speech voice. What changes
from call to call ({channel}, {ending}, {digits}) can only be spoken, so placeholders go in text parts:
an audio locale plays its recordings around them ("...ending in" <Play>, "45 67" <Say>). A transcript
is the recording's exact words: the consent ledger keeps the words the caller heard.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.flows.fields import Channel, Prompt

LOCALE_PATTERN: Final = r"^[a-z]{2,3}-[A-Z]{2}$"

# Every key a locale must say, the placeholders it must use (all of them, and no others), and when.
KEYS: Final[Mapping[str, tuple[frozenset[str], str]]] = {
    "consent": (
        frozenset({"channel", "ending"}),
        "the consent question for the caller's own number (legal text: change a word, raise consent_version)",
    ),
    "consent_keyed": (
        frozenset({"channel"}),
        "the consent question for a number the caller keyed in (legal text, like consent)",
    ),
    "enter_number": (frozenset(), "asks for a mobile number, keyed in and finished with #"),
    "read_back": (frozenset({"digits"}), "reads a keyed-in number back, digit by digit: 1 confirms"),
    "number_invalid": (frozenset(), "the keyed-in number was not recognised (before asking again)"),
    "number_not_mobile": (frozenset(), "the keyed-in number cannot be texted (before asking again)"),
    "no_number": (frozenset(), "no number was settled on; the caller keeps their place"),
    "declined": (frozenset(), "the caller did not agree; they keep their place"),
    "sending": (frozenset(), "said while the SMS is being sent"),
    "sent": (frozenset({"ending"}), "the SMS has left: said before the caller leaves the queue"),
    "still_sending": (frozenset(), "the provider is slow: hold music meanwhile, the place is kept"),
    "failed": (frozenset(), "the SMS could not be sent; the caller keeps their place"),
    "refused": (frozenset(), "no SMS, for a reason the caller cannot act on; they keep their place"),
    "own_withheld": (frozenset(), "why a withheld number will not do, before asking for another"),
    "own_not_mobile": (frozenset(), "why the calling number will not do: it cannot receive SMS"),
    "own_abroad": (frozenset(), "why the calling number will not do: it is not in a served region"),
    "refused_recently": (frozenset(), "the number was texted recently: open the link in that SMS"),
    "refused_daily_limit": (frozenset(), "today's SMS for calls from this number are used up"),
    "refused_not_mobile": (frozenset(), "SMS go to mobile numbers only"),
    "refused_opted_out": (frozenset(), "the number opted out of our SMS"),
    "refused_busy": (frozenset(), "no SMS can be sent right now (paused, limits, chat closed)"),
}


# -- what the dialogue speaks from ----------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One piece of what is said: `text` in `voice` and `language` (None: the flow's), or the recording
    at `audio`, whose words `text` is (its transcript)."""

    text: str
    audio: str | None = None
    voice: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Speech:
    """What the caller hears for one key, part by part (`gateway.deflection.twiml.speak` says it)."""

    parts: tuple[Part, ...]

    @classmethod
    def of(cls, text: str) -> Speech:
        """Text in the flow's voice."""
        return cls((Part(text),))

    @property
    def words(self) -> str:
        """Every word the caller hears, transcripts included: what the consent ledger keeps."""
        return " ".join(part.text for part in self.parts)

    def fill(self, **values: str) -> Speech:
        """The placeholders of the text parts replaced (recordings say the same on every call)."""
        return Speech(
            tuple(
                part if part.audio is not None else replace(part, text=part.text.format(**values))
                for part in self.parts
            )
        )


@dataclass(frozen=True)
class VoiceTexts:
    """One locale's texts, compiled."""

    locale: str
    consent_version: str  # what the consent ledger records: "ru-RU/consent-v1"
    channel_names: Mapping[str, str]  # how the voice says each messenger; others by written name
    language: str | None  # the language of the text parts (None: the flow's): {channel} is joined in it
    consent: Speech
    consent_keyed: Speech
    enter_number: Speech
    read_back: Speech
    number_invalid: Speech
    number_not_mobile: Speech
    no_number: Speech
    declined: Speech
    sending: Speech
    sent: Speech
    still_sending: Speech
    failed: Speech
    refused: Speech
    own_withheld: Speech
    own_not_mobile: Speech
    own_abroad: Speech
    refused_recently: Speech
    refused_daily_limit: Speech
    refused_not_mobile: Speech
    refused_opted_out: Speech
    refused_busy: Speech


def consent_version(locale: str, number: int) -> str:
    """The consent text's version as the ledger shows it: "kk-KZ/consent-v1"."""
    return f"{locale}/consent-v{number}"


# -- what a file may say ----------------------------------------------------------------------------


def _check_audio_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+/\S*$", value):
        raise ValueError(f"'{value}' is not an http(s) URL of a recording (encode spaces as %20)")
    return value


def _speaks(language: str | None, info: ValidationInfo) -> str | None:
    """A Google voice's name says its language: it must be the one given beside it."""
    voice = info.data.get("voice")
    google = re.match(r"^Google\.([a-z]{2,3}-[A-Z]{2})-", voice or "")
    if google and language and google.group(1) != language:
        raise ValueError(f"voice '{voice}' does not speak {language}")
    return language


def _same_words_every_call(transcript: str) -> str:
    if "{" in transcript or "}" in transcript:
        raise ValueError(
            "a recording says the same words on every call: put the placeholder in a text part after "
            "it, and leave braces out of the transcript"
        )
    return transcript


AudioUrl = Annotated[
    str, AfterValidator(_check_audio_url), Field(json_schema_extra={"format": "uri", "pattern": "^https?://"})
]


def _check_language(value: str) -> str:
    if not re.match(LOCALE_PATTERN, value):
        raise ValueError(f"'{value}' is not a language like ru-RU or en-US")
    return value


Language = Annotated[
    str,
    AfterValidator(_check_language),
    Field(json_schema_extra={"pattern": LOCALE_PATTERN}, examples=["ru-RU", "en-US"]),
]
Voice = Annotated[str, Field(min_length=1, examples=["Polly.Tatyana", "Google.ru-RU-Standard-A"])]
Transcript = Annotated[Prompt, AfterValidator(_same_words_every_call)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpokenPart(_Model):
    """One part of a key: `text` for text-to-speech, or `play` (a recording) with its `transcript`."""

    text: Prompt | None = Field(default=None, description="said by text-to-speech; may use placeholders")
    voice: Voice | None = Field(default=None, description="default: the file's voice, else the flow's")
    language: Language | None = Field(
        default=None, description="default: the file's language, else the flow's locale"
    )
    play: AudioUrl | None = Field(default=None, description="a recording (mp3, wav) that Twilio fetches")
    transcript: Transcript | None = Field(
        default=None, description="the recording's exact words (the consent ledger keeps them)"
    )

    _voice_speaks_language = field_validator("language")(_speaks)

    @model_validator(mode="after")
    def _text_or_recording(self) -> SpokenPart:
        if (self.text is None) == (self.play is None):
            raise ValueError("give either 'text' or 'play' (a recording with its 'transcript')")
        if self.play is not None:
            if self.transcript is None:
                raise ValueError("a recording needs its 'transcript': its exact words, for the ledger")
            if self.voice is not None or self.language is not None:
                raise ValueError("'voice' and 'language' are for text, not for a recording")
        elif self.transcript is not None:
            raise ValueError("'transcript' belongs to a recording ('play')")
        return self


def _shape(value: Any) -> str | None:
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "part"
    if isinstance(value, list):
        return "parts"
    return None


Item = Annotated[Annotated[Prompt, Tag("text")] | Annotated[SpokenPart, Tag("part")], Discriminator(_shape)]
Entry = Annotated[
    Annotated[Prompt, Tag("text")]
    | Annotated[SpokenPart, Tag("part")]
    | Annotated[list[Item], Tag("parts"), Field(min_length=1)],
    Discriminator(_shape),
]


def entry_parts(entry: str | SpokenPart | list[str | SpokenPart]) -> list[SpokenPart]:
    """A key's value as a list of parts (a plain string is one text part)."""
    items = entry if isinstance(entry, list) else [entry]
    return [SpokenPart(text=item) if isinstance(item, str) else item for item in items]


def placeholders(text: str) -> set[str]:
    """The {names} a text uses. Braces are for placeholders only: a stray or doubled brace, a field like
    {0} or {ending.x} or a format spec is an error (the text reaches str.format, or is said as it is)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        parsed = [("{", None, None, None)]
    names = set()
    for literal, name, spec, conversion in parsed:
        if "{" in literal or "}" in literal:
            raise ValueError(
                f"a brace that is not a placeholder in '{text}': write {{ending}}, {{channel}}..."
            )
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            field = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(f"{{{field}}} is not a placeholder: write the name alone, like {{ending}}")
        names.add(name)
    return names


def _uses(wanted: frozenset[str]) -> AfterValidator:
    def check(entry: str | SpokenPart | list[str | SpokenPart]) -> Any:
        used: set[str] = set()
        for part in entry_parts(entry):
            used |= placeholders(part.text) if part.text is not None else set()
        allowed = ", ".join("{" + name + "}" for name in sorted(wanted)) or "none"
        unknown = sorted(used - wanted)
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}} (this key uses: {allowed})")
        missing = sorted(wanted - used)
        if missing:
            raise ValueError(
                f"must say {{{missing[0]}}} (this key uses: {allowed}), in a text part: "
                "a recording cannot say it"
            )
        return entry

    return AfterValidator(check)


def _uses_of(key: str) -> AfterValidator:
    return _uses(KEYS[key][0])


def _about(key: str) -> Any:
    wanted, about = KEYS[key]
    uses = ", ".join("{" + name + "}" for name in sorted(wanted))
    return Field(description=f"{about}; uses {uses}" if uses else about)


class Texts(_Model):
    """Every key of the dialogue: a text, one part, or a list of parts."""

    consent: Annotated[Entry, _uses_of("consent")] = _about("consent")
    consent_keyed: Annotated[Entry, _uses_of("consent_keyed")] = _about("consent_keyed")
    enter_number: Annotated[Entry, _uses_of("enter_number")] = _about("enter_number")
    read_back: Annotated[Entry, _uses_of("read_back")] = _about("read_back")
    number_invalid: Annotated[Entry, _uses_of("number_invalid")] = _about("number_invalid")
    number_not_mobile: Annotated[Entry, _uses_of("number_not_mobile")] = _about("number_not_mobile")
    no_number: Annotated[Entry, _uses_of("no_number")] = _about("no_number")
    declined: Annotated[Entry, _uses_of("declined")] = _about("declined")
    sending: Annotated[Entry, _uses_of("sending")] = _about("sending")
    sent: Annotated[Entry, _uses_of("sent")] = _about("sent")
    still_sending: Annotated[Entry, _uses_of("still_sending")] = _about("still_sending")
    failed: Annotated[Entry, _uses_of("failed")] = _about("failed")
    refused: Annotated[Entry, _uses_of("refused")] = _about("refused")
    own_withheld: Annotated[Entry, _uses_of("own_withheld")] = _about("own_withheld")
    own_not_mobile: Annotated[Entry, _uses_of("own_not_mobile")] = _about("own_not_mobile")
    own_abroad: Annotated[Entry, _uses_of("own_abroad")] = _about("own_abroad")
    refused_recently: Annotated[Entry, _uses_of("refused_recently")] = _about("refused_recently")
    refused_daily_limit: Annotated[Entry, _uses_of("refused_daily_limit")] = _about("refused_daily_limit")
    refused_not_mobile: Annotated[Entry, _uses_of("refused_not_mobile")] = _about("refused_not_mobile")
    refused_opted_out: Annotated[Entry, _uses_of("refused_opted_out")] = _about("refused_opted_out")
    refused_busy: Annotated[Entry, _uses_of("refused_busy")] = _about("refused_busy")


class VoiceTextsFile(_Model):
    """One locale's voice texts: `voice_texts/<locale>.yaml` (the file name is the locale)."""

    model_config = ConfigDict(title="Voice texts of the deflection dialogue")

    consent_version: int = Field(
        ge=1, description="the consent text's version, recorded with every consent: raise it with each change"
    )
    voice: Voice | None = Field(default=None, description="text-to-speech voice (default: the flow's)")
    language: Language | None = Field(
        default=None, description="language of the text parts (default: the flow's locale)"
    )
    channel_names: dict[Channel, Prompt] = Field(
        default_factory=dict, description="how the voice says each messenger (default: its written name)"
    )
    texts: Texts

    _voice_speaks_language = field_validator("language")(_speaks)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a voice texts file."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **VoiceTextsFile.model_json_schema()}


def render_schema() -> str:
    """The exact text of gateway/flows/voice_texts.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
