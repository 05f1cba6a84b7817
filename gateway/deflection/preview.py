"""An SMS text previewed exactly as an accepted offer would send it: a version of a locale's texts from the
content store (the live one, the draft, or a numbered one), composed by `compose_sms` (the acceptance's
own function) with the configured link mode, brand and messengers, and sample values where a real SMS
has the session's own (its reference and link token). Nothing is written: no session, no outbox row.

`deflect templates preview` calls it; the admin console can too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.channels import CHANNELS
from gateway.content.registry import DRAFT
from gateway.content.service import ContentService
from gateway.deflection.accept import MessageSetup, SmsFacts, compose_sms
from gateway.locales import language
from gateway.messaging.templates import RenderedMessage, TemplateSet

KIND = "sms"
# What a real SMS has of its own session, here as samples of the real shape: a reference (6 characters
# of `REFERENCE_ALPHABET`) and a link token (22 characters, `new_link_token`), so the lengths and the
# segments are those of every real SMS. The call's queue and wait are samples too.
SAMPLE_REFERENCE = "K7XAMN"
SAMPLE_LINK_TOKEN = "Xb3kQ9vR2mT7yW4pL8nJ5A"
SAMPLE_QUEUE = "cards"
SAMPLE_MINUTES_WAITED = 12


class PreviewError(ValueError):
    """What was asked cannot be previewed. `param` names the wrong argument ("name", "locale",
    "version", "channels"); None: the content itself is not there or has problems."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class SmsPreview:
    locale: str  # as resolved ("ru" -> "ru-RU")
    name: str
    version: int | str  # the version's number, or "draft"
    link_mode: str
    channels: tuple[str, ...]
    message: RenderedMessage  # the body exactly as it would be sent, with its encoding and segments


def preview_sms(
    content: ContentService,
    setup: MessageSetup,
    *,
    name: str,
    locale: str,
    which: int | str = "live",
    channels: Sequence[str] | None = None,
) -> SmsPreview:
    """The text `name` of `locale` (resolved like the gateway resolves a locale: exactly, else the
    first of its language) at `which` ("live", "draft" or a version number), offering `channels`
    (default: every configured messenger). Raises PreviewError."""
    known = sorted(key for kind, key in content.store.items() if kind == KIND)
    resolved = resolve_locale(locale, known)
    if resolved is None:
        hint = (
            f"locales: {', '.join(known)}"
            if known
            else "the content store has none yet: the gateway imports the files when it starts, "
            "or `deflect content import`"
        )
        raise PreviewError(f"no SMS texts for locale '{locale}' ({hint})", param="locale")
    texts, version = _texts(content, resolved, which)
    if (resolved, name) not in texts:
        names = ", ".join(texts.names(resolved)) or "none"
        raise PreviewError(f"no SMS text '{name}' in {resolved} {_label(version)} (texts: {names})", "name")
    offered = _offered(setup, channels)
    message = compose_sms(
        texts,
        setup,
        SmsFacts(
            locale=resolved,
            sms_template=name,
            reference=SAMPLE_REFERENCE,
            link_token=SAMPLE_LINK_TOKEN,
            channels=offered,
            queue=SAMPLE_QUEUE,
            minutes_waited=SAMPLE_MINUTES_WAITED,
        ),
    )
    return SmsPreview(resolved, name, version, setup.link_mode, offered, message)


def resolve_locale(wanted: str, known: Iterable[str]) -> str | None:
    """`wanted` itself (in any case, "_" or "-"), else the first known locale of its language
    ("ru" -> "ru-RU"), as a call's voice texts are found (`VoiceTextSet.texts_for`)."""
    ordered = sorted(known)
    normal = wanted.strip().replace("_", "-").lower()
    for locale in ordered:
        if locale.lower() == normal:
            return locale
    return next((locale for locale in ordered if language(locale) == language(normal)), None)


def _texts(content: ContentService, locale: str, which: int | str) -> tuple[TemplateSet, int | str]:
    kind = content.kinds[KIND]
    if which == "draft":
        draft = content.store.draft(KIND, locale)
        if draft is None:
            save = f"deflect content draft sms DIRECTORY/{locale}"
            raise PreviewError(f"the SMS texts of {locale} have no draft (save one: {save})")
        if draft.problems:
            problems = "\n".join(f"  {problem}" for problem in draft.problems)
            raise PreviewError(f"the draft of the SMS texts of {locale} has problems:\n{problems}")
        texts: TemplateSet = kind.compile(locale, draft.files, DRAFT)
        return texts, "draft"
    if which == "live":
        live = content.store.live_pointers().get((KIND, locale))
        if live is None:
            hint = " (it has a draft: --draft)" if content.store.draft(KIND, locale) else ""
            raise PreviewError(f"the SMS texts of {locale} have no live version{hint}")
        which = live
    number = int(which)
    stored = content.store.version(KIND, locale, number)
    if stored is None:
        numbers = ", ".join(str(v.version) for v in reversed(content.store.history(KIND, locale))) or "none"
        raise PreviewError(
            f"the SMS texts of {locale} have no version {number} (versions: {numbers})", "version"
        )
    texts = kind.compile(locale, stored.files, number)
    return texts, number


def _offered(setup: MessageSetup, wanted: Sequence[str] | None) -> tuple[str, ...]:
    """The channels an offer would name: the asked ones, each of which must be configured (an offer
    never names one that is not), else every configured one."""
    if wanted is None:
        configured = setup.accounts.available(list(CHANNELS))
        if not configured:
            raise PreviewError(
                "no messenger is configured (DEFLECT_WHATSAPP_NUMBER, DEFLECT_TELEGRAM_BOT, "
                "DEFLECT_VIBER_URI): no caller is offered a link"
            )
        return tuple(configured)
    unknown = [channel for channel in wanted if channel not in CHANNELS]
    if unknown or not wanted:
        raise PreviewError(
            f"unknown channel {', '.join(unknown) or '(none)'} (channels: {', '.join(CHANNELS)})", "channels"
        )
    missing = [channel for channel in wanted if channel not in setup.accounts.available(list(wanted))]
    if missing:
        raise PreviewError(
            f"{', '.join(missing)} not configured: an offer never names a messenger without its setting "
            "(DEFLECT_WHATSAPP_NUMBER, DEFLECT_TELEGRAM_BOT, DEFLECT_VIBER_URI)"
        )
    return tuple(dict.fromkeys(wanted))


def _label(version: int | str) -> str:
    return "(draft)" if version == "draft" else f"(version {version})"
