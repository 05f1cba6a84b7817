"""Load the voice texts of the deflection dialogue into a `VoiceTextSet`: from `voice_texts/<locale>.yaml`
files, or from the same files' texts kept elsewhere ({relative path: text}, as the content store keeps
them). Every problem of every file is reported together, with file, line and key (`Problem.step`).

A flow finds its texts by its locale: its own file ("ru-RU" finds ru-RU.yaml), else a file of its
language ("ru-KZ" finds ru-RU.yaml), else English, so a flow in a language nobody wrote texts for
still hears the dialogue (`deflect flows validate` says which locales have none).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.flows.loader import read_yaml
from gateway.flows.problems import Problem, Source, format_problem
from gateway.flows.voice_texts import (
    KEYS,
    LOCALE_PATTERN,
    Part,
    Speech,
    SpokenPart,
    VoiceTexts,
    VoiceTextsFile,
    consent_version,
    entry_parts,
)
from gateway.locales import language

VOICE_TEXT_SUFFIX = ".yaml"
FALLBACK_LANGUAGE = "en"


class VoiceTextError(Exception):
    """Voice texts that cannot be used; `problems` says why, each with file, line and key."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(format_problem(p) for p in self.problems))


class VoiceTextSource(Protocol):
    """Where the dialogue gets a locale's texts: a `VoiceTextSet`, or the live ones of the content
    store, where `pins` (a call's `CallState.content`) keeps the version the call started on."""

    def texts_for(self, locale: str, pins: Mapping[str, int] | None = None) -> VoiceTexts: ...


class VoiceTextSet:
    """The voice texts of every locale, compiled once."""

    def __init__(self, texts: Iterable[VoiceTexts]) -> None:
        self._texts = {t.locale: t for t in sorted(texts, key=lambda t: t.locale)}
        if not self._texts:
            raise VoiceTextError([Problem("voice texts", None, None, "no locale has voice texts")])
        self._by_language: dict[str, VoiceTexts] = {}
        for locale, found in self._texts.items():
            self._by_language.setdefault(language(locale), found)

    @classmethod
    def load(cls, directory: str | Path) -> VoiceTextSet:
        """Every `<locale>.yaml` of a directory; raises VoiceTextError with all problems."""
        return cls.from_texts(voice_text_files(directory))

    @classmethod
    def from_texts(cls, files: Mapping[str, str]) -> VoiceTextSet:
        """The files' texts by their (relative) path, e.g. {"voice_texts/ru-RU.yaml": text}; the last
        part of each path names the locale. Raises VoiceTextError with all problems."""
        found, problems = check_voice_texts(files)
        if found is None:
            raise VoiceTextError(problems)
        return found

    def texts_for(self, locale: str, pins: Mapping[str, int] | None = None) -> VoiceTexts:
        """The texts a flow of this locale speaks: its own, its language's, else English (else the
        first locale, so the dialogue is never silent). A fixed set has one version: `pins` is unused."""
        return (
            self._texts.get(locale)
            or self._by_language.get(language(locale))
            or self._by_language.get(FALLBACK_LANGUAGE)
            or next(iter(self._texts.values()))
        )

    def covers(self, locale: str) -> bool:
        """Whether a flow of this locale hears texts of its own language."""
        return locale in self._texts or language(locale) in self._by_language

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._texts)

    def __contains__(self, locale: object) -> bool:
        return locale in self._texts

    def __iter__(self) -> Iterator[VoiceTexts]:
        return iter(self._texts.values())

    def __len__(self) -> int:
        return len(self._texts)


def voice_text_files(directory: str | Path) -> dict[str, str]:
    """The voice text files of a directory by path ({"voice_texts/ru-RU.yaml": text}), in name order;
    a `.yml` file is included, to be told its name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise VoiceTextError([Problem(str(directory), None, None, "no such directory")])
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return {str(path): path.read_text(encoding="utf-8") for path in paths}


def check_voice_texts(files: Mapping[str, str]) -> tuple[VoiceTextSet | None, list[Problem]]:
    """Every file parsed and checked: the set (None if any file has a problem) and all problems."""
    problems: list[Problem] = []
    compiled: dict[str, VoiceTexts] = {}
    owners: dict[str, str] = {}
    if not files:
        problems.append(Problem("voice texts", None, None, "no voice text files (<locale>.yaml) found"))
    for name, text in files.items():
        texts, found = parse_voice_texts(text, name)
        problems += found
        if texts is None:
            continue
        if texts.locale in owners:
            problems.append(
                Problem(name, None, None, f"{texts.locale} is also defined by {owners[texts.locale]}")
            )
        owners.setdefault(texts.locale, name)
        compiled[texts.locale] = texts
    if problems:
        return None, problems
    return VoiceTextSet(compiled.values()), []


def locale_of(name: str) -> str:
    """The locale a voice texts file is for: its name ("voice_texts/kk-KZ.yaml" is kk-KZ)."""
    return PurePosixPath(name.replace("\\", "/")).name.split(".", 1)[0]


def parse_voice_texts(text: str, name: str) -> tuple[VoiceTexts | None, list[Problem]]:
    """One file's text, checked and compiled: (the texts, or None, and every problem found)."""
    locale = locale_of(name)
    problems = []
    if not re.match(LOCALE_PATTERN, locale) or not name.endswith(VOICE_TEXT_SUFFIX):
        problems.append(Problem(name, None, None, "name the file after its locale, like ru-RU.yaml"))
    source, data, found = read_yaml(text, name)
    problems += found
    if data is None and not found:
        return None, [*problems, Problem(name, None, None, "the file is empty")]
    if not isinstance(data, dict):
        if not found:
            message = "voice texts must be a mapping (consent_version, texts...)"
            problems.append(Problem(name, source.locate(())[0], None, message))
        return None, problems
    try:
        model = VoiceTextsFile.model_validate(data)
    except ValidationError as exc:
        problems += dict.fromkeys(_problem(source, e) for e in exc.errors())
        return None, sorted(problems, key=lambda p: p.line or 0)
    if problems:
        return None, problems
    return _compile(locale, model), []


def _compile(locale: str, model: VoiceTextsFile) -> VoiceTexts:
    def part(given: SpokenPart) -> Part:
        if given.play is not None:
            assert given.transcript is not None  # the model requires it
            return Part(given.transcript, audio=given.play)
        assert given.text is not None
        return Part(given.text, voice=given.voice or model.voice, language=given.language or model.language)

    speeches = {key: Speech(tuple(part(p) for p in entry_parts(getattr(model.texts, key)))) for key in KEYS}
    return VoiceTexts(
        locale=locale,
        consent_version=consent_version(locale, model.consent_version),
        channel_names={str(channel): name for channel, name in model.channel_names.items()},
        language=model.language,
        **speeches,
    )


def _problem(source: Source, error: ErrorDetails) -> Problem:
    loc = error["loc"]
    line, matched = source.locate(loc)
    key = str(loc[1]) if len(loc) >= 2 and loc[0] == "texts" else None
    where = matched[2:] if key is not None else matched
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing" and key is not None and len(loc) == 2:
        return Problem(source.name, line, key, f"missing: every locale says it ({KEYS[key][1]})")
    if kind == "extra_forbidden" and key is not None and len(loc) == 2:
        return Problem(source.name, line, key, f"unknown key{_did_you_mean(key, KEYS)}")
    if kind == "missing":
        message = f"'{loc[-1]}' is required"
    elif kind == "extra_forbidden":
        where, message = where[:-1], f"unknown field '{loc[-1]}'"
    elif kind in ("union_tag_not_found", "union_tag_invalid"):
        message = "give the words, a part (text: or play:), or a list of parts"
    elif kind == "literal_error" and loc[0] == "channel_names":
        message = f"unknown messenger (expected {ctx.get('expected')})"
    else:
        message = error["msg"].removeprefix("Value error, ")
    field = ", ".join(f"part {p + 1}" if isinstance(p, int) else str(p) for p in where)
    return Problem(source.name, line, key, f"{field}: {message}" if field else message)


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
