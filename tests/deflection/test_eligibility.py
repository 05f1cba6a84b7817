"""Eligibility rules (pure); the atomic SMS guards are in test_limits.py."""

from __future__ import annotations

import pytest

from gateway.deflection.eligibility import (
    MessagingFacts,
    Policy,
    attestation_refusal,
    caller_refusal,
    keyed_number_attestation_refusal,
    messaging_refusal,
    number_refusal,
)
from gateway.phone import parse_number

POLICY = Policy.build(["RU", "KZ"], [], ["mobile", "fixed_line_or_mobile", "premium_rate"], "off", 10)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+79161234567", None),
        ("+77011234567", None),
        ("+74951234567", "not_mobile"),
        ("+447911123456", "region_not_allowed"),
        ("+78005553535", "number_type_toll_free"),
        ("+78095553535", "number_type_premium_rate"),  # never texted, even if configured
        ("anonymous", "no_number"),
    ],
)
def test_number_refusals(number: str, reason: str | None) -> None:
    assert number_refusal(parse_number(number), POLICY) == reason


def test_a_global_cap_narrows_the_flows_home_regions() -> None:
    capped = Policy.build(["RU", "KZ"], ["KZ"], ["mobile"], "off", 0)
    assert number_refusal(parse_number("+79161234567"), capped) == "region_not_allowed"
    assert number_refusal(parse_number("+77011234567"), capped) is None


def test_opt_out_and_recent_text_come_first() -> None:
    number = parse_number("+79161234567")
    assert caller_refusal(number, POLICY, opted_out=True, texted_recently=True) == "opted_out"
    assert caller_refusal(number, POLICY, opted_out=False, texted_recently=True) == "texted_recently"


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (MessagingFacts(paused=True, chat_open=True, chat_backlog=0, budget_left=5), "messaging_paused"),
        (MessagingFacts(paused=False, chat_open=False, chat_backlog=0, budget_left=5), "chat_closed"),
        (MessagingFacts(paused=False, chat_open=True, chat_backlog=10, budget_left=5), "chat_backlog"),
        (MessagingFacts(paused=False, chat_open=True, chat_backlog=0, budget_left=0), "daily_budget_spent"),
        (MessagingFacts(paused=False, chat_open=True, chat_backlog=9, budget_left=1), None),
    ],
)
def test_messaging_refusals(facts: MessagingFacts, reason: str | None) -> None:
    assert messaging_refusal(facts, POLICY) == reason


@pytest.mark.parametrize(
    ("required", "verstat", "reason"),
    [
        ("off", "TN-Validation-Failed", None),
        ("a", None, None),  # no attestation sent: nothing to judge
        ("a", "TN-Validation-Passed-A", None),
        ("a", "TN-Validation-Passed-B", "caller_id_not_attested"),
        ("ab", "TN-Validation-Passed-B", None),
        ("ab", "TN-Validation-Failed-A", "caller_id_not_attested"),
    ],
)
def test_attestation(required: str, verstat: str | None, reason: str | None) -> None:
    policy = Policy.build(["RU"], [], ["mobile"], required, 0)
    assert attestation_refusal(verstat, policy) == reason


@pytest.mark.parametrize(
    ("required", "verstat", "reason"),
    [
        ("off", None, None),
        ("a", None, "keyed_number_not_attested"),  # nothing to judge is not a pass here
        ("a", "TN-Validation-Passed-A", None),
        ("a", "TN-Validation-Passed-B", "keyed_number_not_attested"),
        ("ab", "TN-Validation-Passed-B", None),
        ("ab", "No-TN-Validation", "keyed_number_not_attested"),
    ],
)
def test_keying_in_a_number_needs_a_passing_attestation_when_required(
    required: str, verstat: str | None, reason: str | None
) -> None:
    policy = Policy.build(["RU"], [], ["mobile"], required, 0)
    assert keyed_number_attestation_refusal(verstat, policy) == reason
