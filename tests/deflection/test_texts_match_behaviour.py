"""What callers hear and read matches what happens: the offer and the consent name the messengers the
caller is really offered, the SMS says "choose" only when the link offers a choice, and the agent's card
shows the place in the queue the caller had."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.clock import ManualClock
from gateway.store.models import Chat, DevInboxMessage
from tests.deflection.conftest import reach_offer, run_jobs
from tests.support.calls import Call, TwiML


def _offer(call: Call, clock: ManualClock) -> TwiML:
    """The Russian bank flow: Cards -> card question -> the bank-cards queue, whose offer lists
    WhatsApp and Telegram and sends the `channel_choice` SMS."""
    offered = reach_offer(call, clock)
    assert offered.all("Gather"), offered.text
    return offered


def _offer_prompt(offered: TwiML) -> str:
    return " ".join(say.text or "" for say in offered.find("Gather").iter("Say"))


def _accept(call: Call, clock: ManualClock, app: Any) -> str:
    consent = call.press(_offer(call, clock), "1")
    call.press(consent, "1")
    run_jobs(app)
    with app.extensions["deflect"].database.session() as session:
        [body] = session.scalars(select(DevInboxMessage.body)).all()
    return str(body)


def test_offer_and_consent_name_every_messenger_offered(make_app: Any, clock: ManualClock) -> None:
    app = make_app()  # WhatsApp and Telegram are configured
    call = Call(app.test_client())

    offered = _offer(call, clock)
    consent = call.press(offered, "1")

    assert "в WhatsApp или Телеграм." in _offer_prompt(offered)
    assert "чат в WhatsApp или Телеграм на номер" in consent.said()


def test_offer_and_consent_leave_out_a_messenger_that_is_not_configured(
    make_app: Any, clock: ManualClock
) -> None:
    app = make_app(DEFLECT_TELEGRAM_BOT="")
    call = Call(app.test_client())

    offered = _offer(call, clock)
    consent = call.press(offered, "1")

    assert "в WhatsApp." in _offer_prompt(offered)
    assert "Телеграм" not in _offer_prompt(offered) + consent.said()


def test_sms_says_choose_only_when_the_link_offers_a_choice(make_app: Any, clock: ManualClock) -> None:
    only_whatsapp = make_app(DEFLECT_TELEGRAM_BOT="")

    body = _accept(Call(only_whatsapp.test_client()), clock, only_whatsapp)

    assert body.startswith("Example Bank: продолжим в WhatsApp, оператор видит звонок. Номер ")
    assert "выберите" not in body


def test_sms_names_the_messengers_to_choose_from(make_app: Any, clock: ManualClock) -> None:
    app = make_app()

    body = _accept(Call(app.test_client()), clock, app)

    assert body.startswith("Example Bank: выберите WhatsApp или Telegram, оператор видит звонок.")


def test_card_keeps_the_place_in_queue_the_caller_had_when_offered(make_app: Any, clock: ManualClock) -> None:
    app = make_app()
    call = Call(app.test_client(), queue_position=3, queue_size=7)

    _accept(call, clock, app)

    with app.extensions["deflect"].database.session() as session:
        [chat] = session.scalars(select(Chat)).all()
        assert chat.context["position"] == 3
