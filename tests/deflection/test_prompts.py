"""What callers hear when no SMS is sent: a reason they can act on where there is one, and always that
they keep their place in the queue, in every shipped locale."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.deflection.prompts import BUSY_REASONS, own_number_problem, refusal_text
from gateway.flows.voice_text_set import VoiceTextSet

TEXTS = VoiceTextSet.load(Path(__file__).resolve().parents[2] / "voice_texts")
KEEP_PLACE = {
    "ru-RU": "остаётесь в очереди",
    "en-US": "keep your place in the queue",
    "kk-KZ": "кезекте қаласыз",
}
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


@pytest.mark.parametrize("locale", TEXTS.locales)
@pytest.mark.parametrize("reason", REASONS)
def test_every_refusal_tells_the_caller_they_keep_their_place(locale: str, reason: str) -> None:
    assert KEEP_PLACE[locale] in refusal_text(TEXTS.texts_for(locale), reason).words


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
    assert english in refusal_text(TEXTS.texts_for("en"), reason).words


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
    assert russian in own_number_problem(TEXTS.texts_for("ru"), reason).words
    assert english in own_number_problem(TEXTS.texts_for("en"), reason).words
