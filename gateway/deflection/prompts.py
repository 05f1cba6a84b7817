"""What the caller hears between "press 1" and leaving the queue, per locale.

The consent text is legal text: it is versioned, and the consent record stores its version, its exact
words and their hash. Change a word, change the version.
"""

from __future__ import annotations

import hashlib
import re
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
        channel_names={"whatsapp": "WhatsApp", "telegram": "Telegram", "viber": "Viber"},
    ),
}


def said_channels(channels: list[str], locale: str) -> str:
    """The channels as the locale's voice says them, as one choice ("WhatsApp или Телеграм")."""
    names = texts_for(locale).channel_names
    return either([names.get(c) or WRITTEN_NAMES.get(c, c) for c in channels], locale)


def language_of(text: str) -> str:
    """ "ru" for a message written in Cyrillic, else "en": the language to answer an unknown sender in."""
    return "ru" if re.search(r"[а-яё]", text.lower()) else "en"


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
