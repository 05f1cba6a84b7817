"""A call accepted through the real signed webhooks becomes one fact and the hour's sums count it."""

from __future__ import annotations

from typing import Any

from gateway.clock import ManualClock
from gateway.store.models import CallFact
from tests.deflection.conftest import reach_consent, run_jobs
from tests.support.calls import Call


def test_an_accepted_offer_is_one_fact_counted_once_however_often_folded(
    twilio_app: Any, caller: Call, clock: ManualClock
) -> None:
    consent = reach_consent(caller, clock)
    caller.press(consent, "1")
    run_jobs(twilio_app)
    reports = twilio_app.extensions["deflect"].reports
    list(reports.refresh())
    list(reports.refresh())
    with reports.database.session() as session:
        fact = session.get(CallFact, caller.call_sid)
        assert fact is not None
        assert fact.queue and fact.offers == 1 and fact.accepted_at and fact.consented_at
        assert fact.sms_accepted_at is not None
    day = clock.now().astimezone(reports.period("2000-01-01", "2000-01-01").tz).date().isoformat()
    total = reports.total(reports.period(day, day))
    assert total.sums["calls"] == 1
    assert total.sums["offered"] == 1
    assert total.sums["consented"] == 1
    assert total.sums["sms_accepted"] == 1
