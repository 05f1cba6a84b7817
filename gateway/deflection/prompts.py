"""What the caller hears between "press 1" and leaving the queue, per locale.

The consent text is legal text: it is versioned, and the consent record stores its version, its exact
words and their hash. Change a word, change the version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.channels import WRITTEN_NAMES, either


@dataclass(frozen=True)
class VoiceTexts:
    consent_version: str
    consent: str  # uses {channel} and {ending}
    consent_keyed: str  # for a number the caller keyed in: uses {channel}
    enter_number: str
    read_back: str  # uses {digits}
    number_invalid: str
    number_not_mobile: str
    no_number: str
    declined: str
    sending: str
    sent: str  # uses {ending}
    still_sending: str
    failed: str
    refused: str
    # Why the caller's own number will not do, said before they are asked to key in a mobile number.
    own_withheld: str
    own_not_mobile: str
    own_abroad: str
    # Why no SMS, by class, each with something the caller can act on where there is something; all
    # say the caller keeps their place in the queue.
    refused_recently: str
    refused_daily_limit: str
    refused_not_mobile: str
    refused_opted_out: str
    refused_busy: str
    channel_names: dict[str, str]


TEXTS: dict[str, VoiceTexts] = {
    "ru": VoiceTexts(
        consent_version="ru-consent-v1",
        consent=(
            "Мы отправим SMS со ссылкой на чат в {channel} на номер, который заканчивается на "
            "{ending}. По ссылке вы продолжите разговор с оператором в переписке. "
            "Если вы согласны получить это сообщение, нажмите 1. Чтобы остаться на линии, нажмите 2."
        ),
        consent_keyed=(
            "Мы отправим SMS со ссылкой на чат в {channel} на этот номер. "
            "Если вы согласны получить это сообщение, нажмите 1. "
            "Чтобы остаться на линии, нажмите 2."
        ),
        enter_number=(
            "Введите, пожалуйста, номер мобильного телефона для SMS, начиная с кода "
            "страны, и нажмите решётку."
        ),
        read_back="Вы ввели: {digits}. Если номер верный, нажмите 1. Чтобы ввести его заново, нажмите 2.",
        number_invalid="Этот номер не удалось распознать.",
        number_not_mobile="На этот номер мы не можем отправить SMS. Нужен номер мобильного телефона.",
        no_number="К сожалению, отправить сообщение не получится. Вы остаётесь в очереди.",
        declined="Хорошо, вы остаётесь на линии. Оператор ответит, как только освободится.",
        sending="Отправляем сообщение, пожалуйста, подождите.",
        sent=(
            "Мы отправили сообщение на номер, который заканчивается на {ending}. "
            "Откройте ссылку, и оператор продолжит разговор в чате. Спасибо, до свидания."
        ),
        still_sending="Сообщение ещё отправляется. Вы пока остаётесь в очереди.",
        failed=(
            "К сожалению, отправить сообщение не получилось. Вы остаётесь в очереди, "
            "оператор ответит, как только освободится."
        ),
        refused=(
            "К сожалению, на этот номер нельзя отправить сообщение. Вы остаётесь в очереди, "
            "оператор ответит, как только освободится."
        ),
        own_withheld="Ваш номер скрыт, поэтому мы не можем отправить на него SMS.",
        own_not_mobile="Номер, с которого вы звоните, не принимает SMS.",
        own_abroad="На номер, с которого вы звоните, мы не отправляем SMS.",
        refused_recently=(
            "Мы уже недавно отправляли SMS на этот номер. Откройте ссылку из того сообщения. "
            "Вы остаётесь в очереди."
        ),
        refused_daily_limit=(
            "Сегодня по звонкам с вашего номера мы уже отправили столько SMS, сколько можно. "
            "Вы остаётесь в очереди, оператор ответит, как только освободится."
        ),
        refused_not_mobile=(
            "Мы отправляем SMS только на мобильные номера. Вы остаётесь в очереди, "
            "оператор ответит, как только освободится."
        ),
        refused_opted_out=(
            "Этот номер отказался от наших SMS, поэтому мы не будем на него писать. "
            "Вы остаётесь в очереди, оператор ответит, как только освободится."
        ),
        refused_busy=(
            "К сожалению, сейчас мы не можем отправлять SMS. Вы остаётесь в очереди, "
            "оператор ответит, как только освободится."
        ),
        channel_names={"whatsapp": "WhatsApp", "telegram": "Телеграм", "viber": "Вайбер"},
    ),
    "en": VoiceTexts(
        consent_version="en-consent-v1",
        consent=(
            "We will text a link to continue in {channel} to the number ending in {ending}. "
            "The link opens a chat with our team. To agree to receive this message, press 1. "
            "To stay on the line, press 2."
        ),
        consent_keyed=(
            "We will text a link to continue in {channel} to this number. "
            "To agree to receive this message, press 1. To stay on the line, press 2."
        ),
        enter_number=(
            "Please enter the mobile number for the text message, starting with the "
            "country code, then press the pound key."
        ),
        read_back="You entered {digits}. If that is right, press 1. To enter it again, press 2.",
        number_invalid="Sorry, that number was not recognised.",
        number_not_mobile="We cannot text that number. Please use a mobile number.",
        no_number="Sorry, we cannot send the message. You keep your place in the queue.",
        declined="All right, please stay on the line. An agent will answer as soon as possible.",
        sending="Sending the message now, one moment please.",
        sent=(
            "We have sent a message to the number ending in {ending}. Open the link to continue "
            "the conversation in the chat. Thank you, goodbye."
        ),
        still_sending="The message is still on its way. You keep your place in the queue.",
        failed=(
            "Sorry, the message could not be sent. You keep your place in the queue, and an "
            "agent will answer as soon as possible."
        ),
        refused=(
            "Sorry, we cannot send a message to this number. You keep your place in the queue, "
            "and an agent will answer as soon as possible."
        ),
        own_withheld="Your number is hidden, so we cannot text it.",
        own_not_mobile="The number you are calling from cannot receive text messages.",
        own_abroad="We do not send text messages to the number you are calling from.",
        refused_recently=(
            "We already sent a text message to this number recently. Please open the link in that "
            "message. You keep your place in the queue."
        ),
        refused_daily_limit=(
            "We have sent as many text messages for calls from your number as we can today. "
            "You keep your place in the queue, and an agent will answer as soon as possible."
        ),
        refused_not_mobile=(
            "We can only send text messages to mobile numbers. You keep your place in the queue, "
            "and an agent will answer as soon as possible."
        ),
        refused_opted_out=(
            "This number has opted out of our text messages, so we will not text it. You keep your "
            "place in the queue, and an agent will answer as soon as possible."
        ),
        refused_busy=(
            "Sorry, we cannot send text messages right now. You keep your place in the queue, "
            "and an agent will answer as soon as possible."
        ),
        channel_names={"whatsapp": "WhatsApp", "telegram": "Telegram", "viber": "Viber"},
    ),
}


def said_channels(channels: list[str], locale: str) -> str:
    """The channels as the locale's voice says them, as one choice ("WhatsApp или Телеграм")."""
    names = texts_for(locale).channel_names
    return either([names.get(c) or WRITTEN_NAMES.get(c, c) for c in channels], locale)


# Refusals that say nothing about the number: the caller can only wait (or call another day).
BUSY_REASONS = frozenset(
    {
        "messaging_paused",
        "range_paused",
        "prefix_rate_limit",
        "ndc_rate_limit",
        "country_rate_limit",
        "global_rate_limit",
        "ndc_daily_limit",
        "country_daily_limit",
        "daily_budget_spent",
        "chat_closed",
        "chat_backlog",
        "line_type_pending",
        "line_type_unknown",
    }
)


def refusal_text(texts: VoiceTexts, reason: str) -> str:
    """What a caller hears when no SMS will be sent, by the class of the refusal reason."""
    if reason in ("texted_recently", "keyed_number_limit"):
        return texts.refused_recently  # the link is in the message already sent
    if reason == "caller_daily_limit":
        return texts.refused_daily_limit
    if reason == "opted_out":
        return texts.refused_opted_out
    if reason == "not_mobile" or reason.startswith("number_type_"):
        return texts.refused_not_mobile
    if reason in BUSY_REASONS:
        return texts.refused_busy
    if reason in ("number_invalid", "re_entry"):  # no number was settled on
        return texts.no_number
    return texts.refused


def own_number_problem(texts: VoiceTexts, reason: str) -> str:
    """Why the caller's own number will not do (a reason after which they may key in a mobile one)."""
    if reason == "no_number":
        return texts.own_withheld
    if reason == "region_not_allowed":
        return texts.own_abroad
    return texts.own_not_mobile


def texts_for(locale: str) -> VoiceTexts:
    return TEXTS.get(locale.split("-")[0].lower(), TEXTS["en"])


def spoken_ending(number: str, locale: str) -> str:
    """The last four digits as two pairs ("45 67"), the way numbers are read in both languages."""
    last = number[-4:]
    return f"{last[:2]} {last[2:]}"


def spoken_digits(digits: str) -> str:
    """Digit by digit, with pauses, so the caller can check a number they keyed in."""
    return ", ".join(digits)


def consent_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
