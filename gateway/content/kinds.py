"""The kinds of content and their files: how a directory of files becomes items, how an item is checked
and compiled. An item is `{relative path: text}` under its kind's directory:

- `flow`: one IVR flow, `ivr_flows/<name>.yaml`, keyed by the flow's id;
- `sms`: the SMS and chat texts of one locale, `sms_templates/<locale>/<name>.txt`, keyed by locale;
- `voice`: the voice texts of the hand-over dialogue in one locale, `voice_texts/<locale>.yaml`, keyed by
  locale.

Checks name every problem with its file and line (`gateway.flows.loader.Problem`); they look at one item
alone. What items say about each other (a flow's SMS text missing for its locale) is checked by the
service over the whole set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml

from gateway.flows.loader import FLOW_SUFFIXES, FlowError, Problem, parse_flow
from gateway.flows.model import Flow
from gateway.flows.voice_text_set import VOICE_TEXT_SUFFIX, VoiceTextError, locale_of, parse_voice_texts
from gateway.flows.voice_texts import VoiceTexts
from gateway.messaging.templates import TEMPLATE_SUFFIX, TemplateError, TemplateSet

Files = Mapping[str, str]


class Kind(Protocol):
    name: str
    directory: Path  # where its files live (an export writes there, an import reads there)

    def scan(self, directory: Path) -> dict[str, dict[str, str]]:
        """The items found in a directory laid out like this kind's: key -> files."""

    def key_of(self, files: Files) -> str:
        """The key an item's files belong to (what a draft made from files is saved under)."""

    def check(self, key: str, files: Files) -> list[Problem]:
        """Every problem of one item, alone ([] when it can be published)."""

    def compile(self, key: str, files: Files, version: int) -> Any:
        """The item as the gateway runs it (checked first: raises on a problem)."""


def read_text(path: Path) -> str:
    # newline="" keeps the file's own line ends: an export writes back the very same bytes.
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


@dataclass
class FlowKind:
    directory: Path
    name: str = "flow"

    def scan(self, directory: Path) -> dict[str, dict[str, str]]:
        items: dict[str, dict[str, str]] = {}
        if not directory.is_dir():
            return items
        for path in sorted(p for p in directory.iterdir() if p.suffix in FLOW_SUFFIXES and p.is_file()):
            files = {path.name: read_text(path)}
            items.setdefault(self.key_of(files), {}).update(files)
        return items

    def key_of(self, files: Files) -> str:
        """The flow's `id:`, read even from a file that does not validate (its draft is kept with its
        problems); the file's name when there is no id at all."""
        name, text = next(iter(files.items()))
        flow = _parsed(text, name)
        if isinstance(flow, Flow):
            return flow.id
        try:
            document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            document = None
        flow_id = document.get("id") if isinstance(document, dict) else None
        return flow_id if isinstance(flow_id, str) and flow_id else Path(name).stem

    def check(self, key: str, files: Files) -> list[Problem]:
        if len(files) != 1:
            return [Problem(key, None, None, f"a flow is one YAML file, got {len(files)} files")]
        [(name, text)] = files.items()
        flow = _parsed(text, name)
        if not isinstance(flow, Flow):
            return list(flow)
        if flow.id != key:
            return [Problem(name, None, None, f"this file is flow '{flow.id}', not '{key}'")]
        return []

    def compile(self, key: str, files: Files, version: int) -> Flow:
        [(name, text)] = files.items()
        flow = _parsed(text, name)
        if not isinstance(flow, Flow):
            raise FlowError(flow)
        return flow if flow.version == version else flow.model_copy(update={"version": version})


@lru_cache(maxsize=128)
def _parsed(text: str, name: str) -> Flow | tuple[Problem, ...]:
    """A flow's text parsed once per process (flows are immutable): checking, compiling and every app
    built in one process (the tests build hundreds) share it."""
    try:
        return parse_flow(text, name)
    except FlowError as exc:
        return tuple(exc.problems)


@dataclass
class SmsKind:
    directory: Path
    name: str = "sms"

    def scan(self, directory: Path) -> dict[str, dict[str, str]]:
        items: dict[str, dict[str, str]] = {}
        if not directory.is_dir():
            return items
        for locale_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
            files = {
                f"{locale_dir.name}/{path.name}": read_text(path)
                for path in sorted(locale_dir.glob(f"*{TEMPLATE_SUFFIX}"))
            }
            if files:
                items[locale_dir.name] = files
        return items

    def key_of(self, files: Files) -> str:
        locales = {path.split("/", 1)[0] for path in files}
        return next(iter(locales)) if len(locales) == 1 else ",".join(sorted(locales))

    def check(self, key: str, files: Files) -> list[Problem]:
        problems = []
        if not files:
            problems.append(Problem(key, None, None, "a locale's SMS texts need at least one file"))
        for path, text in files.items():
            locale, _, name = path.partition("/")
            if locale != key or not name.endswith(TEMPLATE_SUFFIX):
                problems.append(Problem(path, None, None, f"expected {key}/<name>{TEMPLATE_SUFFIX}"))
                continue
            compiled = _template(path, text)
            if isinstance(compiled, str):
                problems.append(Problem(path, None, None, compiled))
        return problems

    def compile(self, key: str, files: Files, version: int) -> TemplateSet:
        compiled = [_template(path, text) for path, text in sorted(files.items())]
        for path, each in zip(sorted(files), compiled, strict=True):
            if isinstance(each, str):
                raise TemplateError(each, source=path)
        return TemplateSet.merge(each for each in compiled if isinstance(each, TemplateSet))


@lru_cache(maxsize=256)
def _template(path: str, text: str) -> TemplateSet | str:
    """One text file compiled once per process (its problem's message, when it has one)."""
    locale, _, name = path.partition("/")
    try:
        return TemplateSet.from_texts({(locale, name.removesuffix(TEMPLATE_SUFFIX)): text}, origin=path)
    except TemplateError as exc:
        return str(exc).removeprefix(f"{exc.source}: ")


@dataclass
class VoiceKind:
    directory: Path
    name: str = "voice"

    def scan(self, directory: Path) -> dict[str, dict[str, str]]:
        items: dict[str, dict[str, str]] = {}
        if not directory.is_dir():
            return items
        for path in sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
            items.setdefault(locale_of(path.name), {})[path.name] = read_text(path)
        return items

    def key_of(self, files: Files) -> str:
        locales = {locale_of(name) for name in files}
        return next(iter(locales)) if len(locales) == 1 else ",".join(sorted(locales))

    def check(self, key: str, files: Files) -> list[Problem]:
        if len(files) != 1:
            names = ", ".join(sorted(files)) or "none"
            return [
                Problem(key, None, None, f"a locale's voice texts are one file, {key}.yaml (got {names})")
            ]
        [(name, text)] = files.items()
        compiled = _voice(text, name)
        if not isinstance(compiled, VoiceTexts):
            return list(compiled)
        if name != f"{key}{VOICE_TEXT_SUFFIX}":
            return [
                Problem(name, None, None, f"the voice texts of {key} are the file {key}{VOICE_TEXT_SUFFIX}")
            ]
        return []

    def compile(self, key: str, files: Files, version: int) -> VoiceTexts:
        [(name, text)] = files.items()
        compiled = _voice(text, name)
        if not isinstance(compiled, VoiceTexts):
            raise VoiceTextError(compiled)
        return compiled


@lru_cache(maxsize=64)
def _voice(text: str, name: str) -> VoiceTexts | tuple[Problem, ...]:
    """One locale's voice texts parsed once per process."""
    texts, problems = parse_voice_texts(text, name)
    return texts if texts is not None else tuple(problems)
