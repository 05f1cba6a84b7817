"""What callers hear when no SMS is sent: a reason they can act on where there is one, and always that
they keep their place in the queue, in Russian and English."""

from __future__ import annotations

import pytest

from gateway.deflection.prompts import BUSY_REASONS, TEXTS, own_number_problem, refusal_text

KEEP_PLACE = {"ru": "остаётесь в очереди", "en": "keep your place in the queue"}
REASONS = sorted(
    BUSY_REASONS
    | {
        "texted_recently",
        "keyed_number_limit",
        "caller_daily_limit",
        "opted_out",
        "not_mobile",
        "number_type_premium_rate",
        "caller_id_not_attested",
        "keyed_number_not_attested",
        "number_invalid",
    }
)


@pytest.mark.parametrize("language", sorted(TEXTS))
@pytest.mark.parametrize("reason", REASONS)
def test_every_refusal_tells_the_caller_they_keep_their_place(language: str, reason: str) -> None:
    assert KEEP_PLACE[language] in refusal_text(TEXTS[language], reason)


@pytest.mark.parametrize(
    ("reason", "english"),
    [
        ("texted_recently", "open the link in that message"),
        ("keyed_number_limit", "open the link in that message"),
        ("caller_daily_limit", "as many text messages for calls from your number as we can today"),
        ("not_mobile", "only send text messages to mobile numbers"),
        ("number_type_toll_free", "only send text messages to mobile numbers"),
        ("opted_out", "opted out of our text messages"),
        ("range_paused", "cannot send text messages right now"),
        ("daily_budget_spent", "cannot send text messages right now"),
        ("caller_id_not_attested", "cannot send a message to this number"),
    ],
)
def test_each_refusal_class_has_its_own_words(reason: str, english: str) -> None:
    assert english in refusal_text(TEXTS["en"], reason)


@pytest.mark.parametrize(
    ("reason", "russian", "english"),
    [
        ("no_number", "Ваш номер скрыт", "Your number is hidden"),
        ("not_mobile", "не принимает SMS", "cannot receive text messages"),
        ("number_type_toll_free", "не принимает SMS", "cannot receive text messages"),
        ("region_not_allowed", "мы не отправляем SMS", "We do not send text messages"),
    ],
)
def test_a_caller_asked_for_a_mobile_number_hears_why_their_own_will_not_do(
    reason: str, russian: str, english: str
) -> None:
    assert russian in own_number_problem(TEXTS["ru"], reason)
    assert english in own_number_problem(TEXTS["en"], reason)
