"""Flows checked against what lies outside their files: texts, messengers, queues and hand-off routes."""

from __future__ import annotations

from pathlib import Path

from gateway.flows import Problem, format_problem
from gateway.flows.crosschecks import (
    HANDOFF_ROUTES,
    Deployment,
    cross_check,
    missing_texts,
    unconfigured_channels,
    unused_queues,
)
from gateway.flows.loader import CheckedFlow, check_flow_text
from tests.flows.helpers import FLOWS_DIR

RU = FLOWS_DIR / "ru_bank_support.yaml"
EN = FLOWS_DIR / "en_support.yaml"
SMS = {"ru-RU": {"channel_choice", "whatsapp_link"}, "en-US": {"whatsapp_link"}}
EVERYTHING = Deployment(
    sms_templates=SMS,
    voice_locales={"ru-RU", "en-US"},
    channels={"whatsapp", "telegram"},
    handoff_routes=("bank-cards", "ru-bank-support"),
)


def _checked(path: Path, *replacements: tuple[str, str]) -> CheckedFlow:
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return check_flow_text(text, path.name)


def _line(path: Path, written: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if written in line)


def test_the_shipped_flows_fit_a_deployment_that_has_everything_they_use() -> None:
    assert cross_check([_checked(RU), _checked(EN)], EVERYTHING) == []


def test_an_offer_naming_an_sms_template_its_locale_lacks_is_reported_at_that_line() -> None:
    deployment = Deployment(sms_templates={"ru-RU": {"whatsapp_link"}})
    # The offer is written once and shared by three queues (`wait: *wait`): one problem, where it is written.
    assert missing_texts([_checked(RU)], deployment) == [
        Problem(
            RU.name,
            _line(RU, "sms_template: channel_choice"),
            "cards_queue",
            "wait.offer.sms_template: no SMS template ru-RU/channel_choice (ru-RU has whatsapp_link)",
        )
    ]
    elsewhere = missing_texts([_checked(EN)], Deployment(sms_templates={"ru-RU": {"whatsapp_link"}}))
    assert [p.message for p in elsewhere] == [
        "wait.offer.sms_template: no SMS template en-US/whatsapp_link (none in that locale)"
    ]


def test_a_flow_with_an_offer_needs_voice_texts_in_its_locale() -> None:
    kazakh = _checked(RU, ("locale: ru-RU", "locale: kk-KZ"))
    problems = missing_texts([kazakh], Deployment(voice_locales={"ru-RU", "en-US"}))
    assert [(p.line, p.step, p.message) for p in problems] == [
        (
            _line(RU, "offer:"),
            "cards_queue",
            "wait.offer: no voice texts for kk-KZ, which the hand-over after the offer speaks "
            "(consent, number read back...); there are voice texts for en-US, ru-RU",
        )
    ]
    assert missing_texts([kazakh], Deployment(voice_locales=None)) == []


def test_a_flow_without_an_offer_needs_no_texts() -> None:
    text = (
        "id: t\nlocale: kk-KZ\nvoice: Polly.Joanna\nentry: q\nsteps:\n  q: {kind: enqueue, queue: support}\n"
    )
    plain = check_flow_text(text, "t.yaml")
    assert missing_texts([plain], Deployment(sms_templates={}, voice_locales=set())) == []


def test_an_offered_messenger_that_is_not_configured_is_reported_with_its_line() -> None:
    problems = unconfigured_channels([_checked(RU), _checked(EN)], Deployment(channels={"whatsapp"}))
    assert [format_problem(p) for p in problems] == [
        f"{RU.name}:{_line(RU, 'channels: [whatsapp, telegram]')}: step 'cards_queue': "
        "wait.offer.channels.1: Telegram is not configured (DEFLECT_TELEGRAM_BOT): "
        "callers are never offered it"
    ]
    nothing = unconfigured_channels([_checked(EN)], Deployment(channels=set()))
    assert [p.message.split(":")[0] for p in nothing] == ["wait.offer.channels.0"]
    assert "DEFLECT_WHATSAPP_NUMBER" in nothing[0].message


def test_a_branch_rule_on_a_queue_no_enqueue_step_uses_is_reported() -> None:
    typo = _checked(
        EN,
        ("queue_size_at_least: 20\n        queue: support", "queue_size_at_least: 20\n        queue: suport"),
    )
    assert unused_queues([typo], Deployment()) == [
        Problem(
            EN.name,
            _line(EN, "queue: support"),
            "check_hours",
            "when.1.queue: no enqueue step uses queue 'suport' (did you mean 'support'?): "
            "the rule never matches",
        )
    ]


def test_a_queue_another_flow_in_service_uses_is_not_reported() -> None:
    elsewhere = _checked(
        EN,
        (
            "queue_size_at_least: 20\n        queue: support",
            "queue_size_at_least: 20\n        queue: bank-cards",
        ),
    )
    russian = _checked(RU)
    assert russian.flow is not None
    assert unused_queues([elsewhere], Deployment(), in_service=[russian.flow]) == []
    assert [p.step for p in unused_queues([elsewhere], Deployment())] == ["check_hours"]


def test_a_handoff_route_naming_neither_a_queue_nor_a_flow_is_reported() -> None:
    routes = ("bank-cards", "ru-bank-support", "bank-card", "nothing-like-it")
    problems = unused_queues([_checked(RU), _checked(EN)], Deployment(handoff_routes=routes))
    assert problems == [
        Problem(
            HANDOFF_ROUTES,
            None,
            None,
            "'bank-card' is neither a queue an enqueue step uses nor a flow id (did you mean 'bank-cards'?): "
            "no chat is routed by it",
        ),
        Problem(
            HANDOFF_ROUTES,
            None,
            None,
            "'nothing-like-it' is neither a queue an enqueue step uses nor a flow id: "
            "no chat is routed by it",
        ),
    ]


def test_queues_are_not_checked_while_a_flow_cannot_be_read() -> None:
    broken = check_flow_text("id: b\nlocale: xx\n", "b.yaml")
    assert unused_queues([_checked(EN), broken], Deployment(handoff_routes=("bank-cards",))) == []


def test_every_cross_check_together_in_file_order() -> None:
    deployment = Deployment(sms_templates={}, voice_locales=set(), channels=(), handoff_routes=("x",))
    problems = cross_check([_checked(RU), _checked(EN)], deployment)
    files = [p.file for p in problems]
    assert files == sorted(files, key=[RU.name, EN.name, HANDOFF_ROUTES].index)
    for name in (RU.name, EN.name):
        lines = [p.line or 0 for p in problems if p.file == name]
        assert lines == sorted(lines) and len(lines) >= 3


def test_a_flow_compiled_elsewhere_is_checked_by_its_id() -> None:
    flow = _checked(EN).flow
    assert flow is not None
    problems = missing_texts([CheckedFlow.of(flow)], Deployment(sms_templates={"en-US": set()}))
    # Without its text there are no lines: each step the shared offer is in is named.
    assert [format_problem(p) for p in problems] == [
        f"flow 'en-support': step '{step}': wait.offer.sms_template: no SMS template "
        "en-US/whatsapp_link (none in that locale)"
        for step in ("billing_queue", "tech_queue")
    ]
