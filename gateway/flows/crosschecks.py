"""Checks of flows against what lies outside their files: the SMS and voice texts of their locale, the
messengers that are configured, and the queues that branch rules and hand-off routes name.

Plain values in, problems (with file, line and step) out: what exists is given as a `Deployment`, built
by the caller from settings and content; nothing here reads settings, files or the database.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from gateway.channels import CHANNELS, WRITTEN_NAMES
from gateway.flows.loader import CheckedFlow
from gateway.flows.model import BranchStep, EnqueueStep, Flow, Offer
from gateway.flows.problems import Problem, in_file_order
from gateway.flows.voice_texts import KEYS

HANDOFF_ROUTES = "DEFLECT_HANDOFF_ROUTES"
"""Where a route's problem is said to be: the setting its key is written in."""
_CONFIGURED_BY: Mapping[str, str] = {
    "whatsapp": "DEFLECT_WHATSAPP_NUMBER",
    "telegram": "DEFLECT_TELEGRAM_BOT",
    "viber": "DEFLECT_VIBER_URI",
}


@dataclass(frozen=True)
class Deployment:
    """What flows are checked against, as plain values."""

    sms_templates: Mapping[str, Collection[str]] | None = None
    """The SMS template names of each locale: {"ru-RU": {"whatsapp_link", ...}}; None: not checked."""
    voice_locales: Collection[str] | None = None
    """The locales that have voice texts for the hand-over dialogue; None: not checked."""
    channels: Collection[str] = CHANNELS
    """The messengers configured: a WhatsApp number, a Telegram bot, a Viber URI."""
    handoff_routes: Collection[str] = ()
    """The keys of the hand-off routes: a queue name or a flow id each."""


def cross_check(
    flows: Sequence[CheckedFlow], deployment: Deployment, *, in_service: Iterable[Flow] = ()
) -> list[Problem]:
    """Every cross-check, in file order (the hand-off routes' problems last). `in_service`: other
    flows whose queues and ids count (the rest of the deployment, when `flows` is one file)."""
    return in_file_order(
        missing_texts(flows, deployment)
        + unconfigured_channels(flows, deployment)
        + unused_queues(flows, deployment, in_service=in_service)
    )


def missing_texts(flows: Sequence[CheckedFlow], deployment: Deployment) -> list[Problem]:
    """An offer's SMS template that its flow's locale does not have; a flow with an offer whose locale
    has no voice texts (the consent, the number read back, "we have sent...")."""
    problems: list[Problem] = []
    for checked, flow in _readable(flows):
        sms = deployment.sms_templates
        names = () if sms is None else sms.get(flow.locale, ())
        offers = list(_offers(flow))
        for sid, offer in offers:
            if sms is not None and offer.sms_template not in names:
                have = f"{flow.locale} has {', '.join(sorted(names))}" if names else "none in that locale"
                missing = f"{flow.locale}/{offer.sms_template}"
                problems.append(
                    checked.problem(
                        ("steps", sid, "wait", "offer", "sms_template"),
                        sid,
                        f"wait.offer.sms_template: no SMS template {missing} ({have})",
                    )
                )
        voice = deployment.voice_locales
        if offers and voice is not None and flow.locale not in voice:
            sid = offers[0][0]
            problems.append(
                checked.problem(
                    ("steps", sid, "wait", "offer"),
                    sid,
                    f"wait.offer: no voice texts for {flow.locale}, which the hand-over after the offer "
                    f"speaks (consent, number read back...); there are voice texts for {_listed(voice)}",
                )
            )
    return _once(problems)


def unconfigured_channels(flows: Sequence[CheckedFlow], deployment: Deployment) -> list[Problem]:
    """An offer's channel without a configured messenger: callers are never offered it."""
    problems: list[Problem] = []
    for checked, flow in _readable(flows):
        for sid, offer in _offers(flow):
            for i, channel in enumerate(offer.channels):
                if channel not in deployment.channels:
                    problems.append(
                        checked.problem(
                            ("steps", sid, "wait", "offer", "channels", i),
                            sid,
                            f"wait.offer.channels.{i}: {WRITTEN_NAMES[channel]} is not configured "
                            f"({_CONFIGURED_BY[channel]}): callers are never offered it",
                        )
                    )
    return _once(problems)


def unused_queues(
    flows: Sequence[CheckedFlow], deployment: Deployment, *, in_service: Iterable[Flow] = ()
) -> list[Problem]:
    """A queue that a branch rule (its figures) or a hand-off route names and no enqueue step uses: the
    rule never matches, the route never routes. Not checked while a flow cannot be read: it may be
    the one that uses the queue."""
    if any(checked.flow is None for checked in flows):
        return []
    everything = [flow for _, flow in _readable(flows)] + list(in_service)
    queues = {name for flow in everything for name in flow.queue_names()}
    problems: list[Problem] = []
    for checked, flow in _readable(flows):
        for sid, step in flow.steps.items():
            if not isinstance(step, BranchStep):
                continue
            for i, rule in enumerate(step.when):
                if rule.queue is not None and rule.queue not in queues:
                    problems.append(
                        checked.problem(
                            ("steps", sid, "when", i, "queue"),
                            sid,
                            f"when.{i}.queue: no enqueue step uses queue '{rule.queue}'"
                            f"{_hint(rule.queue, queues)}: the rule never matches",
                        )
                    )
    ids = {flow.id for flow in everything}
    for key in deployment.handoff_routes:
        if key not in queues and key not in ids:
            problems.append(
                Problem(
                    HANDOFF_ROUTES,
                    None,
                    None,
                    f"'{key}' is neither a queue an enqueue step uses nor a flow id"
                    f"{_hint(key, queues | ids)}: no chat is routed by it",
                )
            )
    return _once(problems)


@dataclass(frozen=True)
class Uses:
    """What a flow uses outside its own file: what the checks above look for, as a list."""

    numbers: tuple[str, ...]
    default: bool  # answers the numbers no other flow claims
    queues: tuple[str, ...]  # the queues its enqueue steps put callers in
    watched_queues: tuple[str, ...]  # queues whose figures its branch rules read, and no step uses
    sms_templates: tuple[tuple[str, str], ...]  # (locale, name) of each offer's SMS text
    voice_locale: str | None  # the locale of the voice texts its hand-over dialogue speaks
    voice_keys: tuple[str, ...]  # the keys of those voice texts that are spoken


def uses(flow: Flow) -> Uses:
    """Which numbers, queues, SMS texts and voice texts a flow uses ("where used")."""
    queues = flow.queue_names()
    watched = [
        rule.queue
        for step in flow.steps.values()
        if isinstance(step, BranchStep)
        for rule in step.when
        if rule.queue is not None and rule.queue not in queues
    ]
    offers = list(_offers(flow))
    return Uses(
        numbers=tuple(flow.numbers),
        default=flow.default,
        queues=tuple(queues),
        watched_queues=tuple(dict.fromkeys(watched)),
        sms_templates=tuple(dict.fromkeys((flow.locale, offer.sms_template) for _, offer in offers)),
        voice_locale=flow.locale if offers else None,
        voice_keys=tuple(KEYS) if offers else (),
    )


def _readable(flows: Sequence[CheckedFlow]) -> Iterator[tuple[CheckedFlow, Flow]]:
    """The flows whose fields and steps could be read (the others' problems are reported already)."""
    for checked in flows:
        if checked.flow is not None:
            yield checked, checked.flow


def _offers(flow: Flow) -> Iterator[tuple[str, Offer]]:
    for sid, step in flow.steps.items():
        if isinstance(step, EnqueueStep) and step.wait.offer is not None:
            yield sid, step.wait.offer


def _once(problems: list[Problem]) -> list[Problem]:
    """One problem per place it is written: an offer shared by several queues through a YAML alias
    (`wait: *wait`) is reported once, with the first step that uses it."""
    seen: set[tuple[str, int, str]] = set()
    kept = []
    for problem in problems:
        if problem.line is not None:
            key = (problem.file, problem.line, problem.message)
            if key in seen:
                continue
            seen.add(key)
        kept.append(problem)
    return kept


def _hint(wrong: str, names: Collection[str]) -> str:
    close = difflib.get_close_matches(wrong, sorted(names), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _listed(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "no locale"
