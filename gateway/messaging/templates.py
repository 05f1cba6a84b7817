"""SMS and chat texts: Jinja2 templates per locale, compiled once, each with its segment cost known.

Files live in ``sms_templates/<locale>/<name>.txt`` (``ru-RU/whatsapp_link.txt``). They are plain
text: no autoescaping, undefined variables are errors, and surrounding whitespace (the file's final
newline included) is stripped from what is rendered. `TemplateSet.load` parses and checks every file
at start-up, so sending never touches the disk; `TemplateSet.from_texts` does the same for texts
kept in the database. Templates run in Jinja's sandbox because admins edit them in the console.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway.channels import either
from gateway.messaging.segments import SegmentInfo, count_segments

REQUIRED_VARIABLES: Final = frozenset({"link", "reference", "brand", "queue"})
# `channels`: the written names of the messengers the link leads to (one: it opens that chat at once;
# several: a page with a button each), so a text can say "choose" only when there is a choice.
OPTIONAL_VARIABLES: Final[Mapping[str, object]] = {"minutes_waited": None, "channels": ()}
VARIABLES: Final = REQUIRED_VARIABLES | frozenset(OPTIONAL_VARIABLES)

# What each shipped template should mention; a template may leave these out, `check_templates`
# then says so (a link SMS without the link is a wasted message).
EXPECTED_VARIABLES: Final[Mapping[str, frozenset[str]]] = {
    "whatsapp_link": frozenset({"link", "reference", "brand"}),
    "channel_choice": frozenset({"link", "reference", "brand"}),
    "chat_ack": frozenset({"reference"}),
}

# Realistic lengths: the link is the gateway's short link (`/l/` + a 22-character token, see
# `new_link_token`), which is what ru-RU messages need to stay within two segments.
SAMPLE_VALUES: Final[Mapping[str, object]] = {
    "link": "https://example.bank/l/Xb3kQ9vR2mT7yW4pL8nJ5A",
    "reference": "K7XAMN",
    "brand": "Example Bank",
    "queue": "cards",
    "minutes_waited": 12,
    "channels": ["WhatsApp", "Telegram", "Viber"],
}
# A text that names the channels is also costed with just one (its other branch may be the longer).
SINGLE_CHANNEL_SAMPLE: Final[Mapping[str, object]] = {"channels": ["WhatsApp"]}

# Functions a text may call: `either(channels)` joins names as one choice in the text's own language
# ("WhatsApp или Telegram", "WhatsApp, Telegram, or Viber").
FUNCTIONS: Final = frozenset({"either"})


def _functions(locale: str) -> dict[str, object]:
    return {"either": lambda names: either(list(names), locale)}


TEMPLATE_SUFFIX: Final = ".txt"
_LOCALE: Final = re.compile(r"[a-z]{2,3}(?:-[A-Z]{2}|-[0-9]{3})?")
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")


class TemplateError(Exception):
    """A template that cannot be loaded or rendered; the message names the file and the variable."""

    def __init__(self, message: str, *, source: str | None = None, variable: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source
        self.variable = variable


@dataclass(frozen=True)
class RenderedMessage:
    """A text ready to send, with what it costs."""

    body: str
    segments: SegmentInfo


@dataclass(frozen=True)
class CompiledTemplate:
    """One parsed template: where it came from, what it uses, and its cost with sample values."""

    locale: str
    name: str
    source: str
    text: str
    variables: frozenset[str]
    sample: RenderedMessage
    template: jinja2.Template = field(repr=False, compare=False)

    def render(self, values: Mapping[str, object]) -> RenderedMessage:
        return _render(self.template, self.variables, self.source, values)


@dataclass(frozen=True)
class TemplateReport:
    """What `check_templates` found about one template (``sample`` is None when it did not load)."""

    locale: str
    name: str
    source: str
    sample: RenderedMessage | None
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings


class TemplateSet:
    """All templates of a deployment, compiled, keyed by (locale, name)."""

    def __init__(self, templates: Mapping[tuple[str, str], CompiledTemplate]) -> None:
        self._templates = dict(templates)

    @classmethod
    def merge(cls, sets: Iterable[TemplateSet]) -> TemplateSet:
        """One set of several (e.g. each locale's texts, kept as separate content items)."""
        return cls({key: template for each in sets for key, template in each._templates.items()})

    @classmethod
    def load(cls, directory: str | Path) -> TemplateSet:
        """Compile every ``<locale>/<name>.txt`` under ``directory``; the first problem raises."""
        env = _environment()
        compiled = {}
        for locale, name, path in _template_files(Path(directory)):
            compiled[(locale, name)] = _compile(env, locale, name, _read(path), str(path))
        return cls(compiled)

    @classmethod
    def from_texts(cls, texts: Mapping[tuple[str, str], str], *, origin: str = "database") -> TemplateSet:
        """Compile texts keyed by (locale, name), e.g. rows edited in the admin console."""
        env = _environment()
        compiled = {}
        for (locale, name), text in texts.items():
            source = f"{origin}:{locale}/{name}"
            _check_key(locale, name, source)
            compiled[(locale, name)] = _compile(env, locale, name, text, source)
        return cls(compiled)

    def render(self, locale: str, name: str, **values: object) -> RenderedMessage:
        """Render one template; an unknown template or a missing variable raises `TemplateError`."""
        return self.get(locale, name).render(values)

    def get(self, locale: str, name: str) -> CompiledTemplate:
        try:
            return self._templates[(locale, name)]
        except KeyError:
            names = sorted({n for (loc, n) in self._templates if loc == locale})
            hint = (
                f"{locale} has {', '.join(names)}"
                if names
                else f"known locales: {', '.join(self.locales) or 'none'}"
            )
            raise TemplateError(f"no template {locale}/{name}{TEMPLATE_SUFFIX} ({hint})") from None

    def sample(self, locale: str, name: str) -> RenderedMessage:
        """The template rendered with `SAMPLE_VALUES` at load time, with its segment count."""
        return self.get(locale, name).sample

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(sorted({locale for locale, _ in self._templates}))

    def names(self, locale: str) -> tuple[str, ...]:
        return tuple(sorted(n for (loc, n) in self._templates if loc == locale))

    def __contains__(self, key: object) -> bool:
        return key in self._templates

    def __iter__(self) -> Iterator[CompiledTemplate]:
        return iter(self._templates[key] for key in sorted(self._templates))

    def __len__(self) -> int:
        return len(self._templates)


def render_sample(locale: str, text: str) -> RenderedMessage:
    """A text being edited, rendered as its template would be with the sample values (the longest of
    its branches), so an editor sees what a caller would receive; TemplateError as on loading."""
    return _compile(_environment(), locale, "typed", text, "the text being edited").sample


def check_templates(
    directory: str | Path, max_segments: int = 2, sample_values: Mapping[str, object] | None = None
) -> list[TemplateReport]:
    """Load every template on its own and report errors and warnings, for ``deflect templates check``.

    Warnings: more than ``max_segments`` segments with the sample values, UCS-2 forced only by
    punctuation or symbols (a ``«`` or ``’`` that shrinks a segment from 160 to 70 characters), and
    a shipped template that leaves out what it is for (`EXPECTED_VARIABLES`). Pass
    ``sample_values`` to check with the deployment's real brand and link.
    """
    env = _environment()
    reports = []
    for locale, name, path in _template_files(Path(directory)):
        try:
            compiled = _compile(env, locale, name, _read(path), str(path), sample_values)
        except TemplateError as exc:
            reports.append(TemplateReport(locale, name, str(path), None, errors=(str(exc),)))
            continue
        reports.append(
            TemplateReport(
                locale, name, str(path), compiled.sample, warnings=_warnings(compiled, max_segments)
            )
        )
    return reports


def _warnings(compiled: CompiledTemplate, max_segments: int) -> tuple[str, ...]:
    info = compiled.sample.segments
    warnings = []
    if info.segments > max_segments:
        warnings.append(
            f"{info.segments} segments with sample values, more than {max_segments}: {info.describe()}"
        )
    if info.non_gsm_chars and not any(ch.isalpha() for ch in info.non_gsm_chars):
        chars = " ".join(info.non_gsm_chars)
        warnings.append(
            f"only {chars} force UCS-2 (70 characters per segment instead of 160); "
            f"replace them with plain characters"
        )
    for variable in sorted(EXPECTED_VARIABLES.get(compiled.name, frozenset()) - compiled.variables):
        warnings.append(f"does not use {{{{ {variable} }}}}")
    return tuple(warnings)


def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )


def _compile(
    env: jinja2.Environment,
    locale: str,
    name: str,
    text: str,
    source: str,
    sample_values: Mapping[str, object] | None = None,
) -> CompiledTemplate:
    # NFC: an editor that saves "й" as "и" + combining breve would otherwise cost an extra unit,
    # and a decomposed "é" would push a GSM-7 text into UCS-2.
    text = unicodedata.normalize("NFC", text)
    try:
        variables = frozenset(meta.find_undeclared_variables(env.parse(text)))
        template = env.from_string(text, globals=_functions(locale))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}", source=source) from exc
    unknown = sorted(variables - VARIABLES - FUNCTIONS)
    if unknown:
        raise TemplateError(
            f"unknown variable {unknown[0]!r} (known: {_known()})", source=source, variable=unknown[0]
        )
    variables -= FUNCTIONS
    samples = [{**SAMPLE_VALUES, **(sample_values or {})}]
    if "channels" in variables:
        samples.append({**samples[0], **SINGLE_CHANNEL_SAMPLE})
    sample = max(
        (_render(template, variables, source, values) for values in samples),
        key=lambda rendered: (rendered.segments.segments, rendered.segments.units),
    )
    if not sample.body:
        raise TemplateError("renders to an empty message", source=source)
    return CompiledTemplate(locale, name, source, text, variables, sample, template)


def _render(
    template: jinja2.Template, variables: frozenset[str], source: str, values: Mapping[str, object]
) -> RenderedMessage:
    unknown = sorted(set(values) - VARIABLES)
    if unknown:
        raise TemplateError(
            f"unknown variable {unknown[0]!r} (known: {_known()})", source=source, variable=unknown[0]
        )
    missing = sorted(v for v in variables & REQUIRED_VARIABLES if values.get(v) is None)
    if missing:
        raise TemplateError(f"missing variable {missing[0]!r}", source=source, variable=missing[0])
    try:
        body = template.render({**OPTIONAL_VARIABLES, **values})
    except jinja2.TemplateError as exc:
        raise TemplateError(f"cannot render: {exc}", source=source) from exc
    body = unicodedata.normalize("NFC", body).strip()
    return RenderedMessage(body, count_segments(body))


def _template_files(directory: Path) -> Iterator[tuple[str, str, Path]]:
    if not directory.is_dir():
        raise TemplateError(f"template directory {directory} does not exist")
    for locale_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        for path in sorted(locale_dir.glob(f"*{TEMPLATE_SUFFIX}")):
            locale, name = locale_dir.name, path.name.removesuffix(TEMPLATE_SUFFIX)
            _check_key(locale, name, str(path))
            yield locale, name, path


def _check_key(locale: str, name: str, source: str) -> None:
    if not _LOCALE.fullmatch(locale):
        raise TemplateError(f"locale {locale!r} is not like ru-RU or en", source=source)
    if not _NAME.fullmatch(name):
        raise TemplateError(f"template name {name!r} is not lower_snake_case", source=source)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"not UTF-8 ({exc.reason} at byte {exc.start})", source=str(path)) from exc


def _known() -> str:
    return ", ".join(sorted(VARIABLES))
