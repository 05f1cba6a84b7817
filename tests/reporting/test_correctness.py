"""The reports count exactly what happened. A scripted day of calls through the real signed webhooks
(an offer declined; one accepted, delivered, clicked, chatted and handed off; a landline refused; an
opted-out number refused; an SMS that failed; and, the next day, the accepted caller ringing back),
folded once, must give the same exact figures in `Reports`, in `deflect report ... --json`, in the API's
JSON and in the CSV export, whose rows add up to the totals."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.clock import ManualClock
from gateway.store.models import Chat, SmsOutbox
from tests.deflection.conftest import reach_consent, reach_offer, run_jobs
from tests.support.calls import ACCOUNT_SID, Call
from tests.support.messages import post_inbound, post_signed

pytestmark = pytest.mark.contract

ACCEPTS = "+79161234567"  # accepts, and rings back the next day
DECLINES = "+79262223344"
LANDLINE = "+74951234567"
OPTED_OUT = "+79857776655"
SMS_FAILS = "+79035550123"

EXPECTED = {
    "calls": 6,
    "offered": 3,
    "refused": 2,
    "declined": 1,
    "accepted": 2,
    "consented": 2,
    "sms_accepted": 2,
    "sms_delivered": 1,
    "sms_failed": 1,
    "clicked": 1,
    "chat_started": 1,
    "handed_off": 1,
    "deflected": 2,
    "reached_agent": 2,
    "abandoned": 2,
    "recontact_short": 0,  # the call back came a little more than 24 h after the first call started
    "recontact_long": 1,
    "deflected_recontact_short": 0,
    "deflected_recontact_long": 1,
}
FUNNEL_COUNTS = [6, 3, 2, 2, 2, 1, 1, 1, 1]
REFUSALS = [{"reason": "keyed_number_not_attested", "calls": 1}, {"reason": "opted_out", "calls": 1}]


@pytest.fixture
def reports_app(make_app: Any, twilio_config: dict[str, str]) -> Any:
    # Attestation required: a caller whose own number cannot be texted (a landline) may not key in
    # another one without StirVerstat, so the landline is refused before any offer.
    return make_app(**twilio_config, DEFLECT_REQUIRE_ATTESTATION="a")


def _outbox(app: Any, call_sid: str) -> SmsOutbox:
    with app.extensions["deflect"].database.session() as session:
        row = session.scalars(select(SmsOutbox).where(SmsOutbox.call_sid == call_sid)).one()
        session.expunge(row)
        return row


def _status(app: Any, call_sid: str, status: str, **more: str) -> None:
    row = _outbox(app, call_sid)
    params = {"MessageSid": row.provider_sid or "", "MessageStatus": status, "AccountSid": ACCOUNT_SID}
    response = post_signed(app.test_client(), f"/twilio/messaging/status/{row.id}", {**params, **more})
    assert response.status_code == 204


def _deflected(app: Any, call: Call, clock: ManualClock) -> None:
    """Offer accepted, consent given, the SMS sent, the caller leaves the queue, hangs up."""
    sending = call.press(reach_consent(call, clock), "1")
    run_jobs(app)
    left = call.post(sending.find("Redirect").text or "")
    assert left.verbs() == ["Say", "Leave"]
    call.queue_result("leave")
    call.status("completed")


def _play_the_day(app: Any, clock: ManualClock) -> dict[str, Call]:
    client = app.test_client()
    calls = {name: Call(client, caller=number) for name, number in [
        ("accepts", ACCEPTS), ("declines", DECLINES), ("landline", LANDLINE),
        ("opted_out", OPTED_OUT), ("sms_fails", SMS_FAILS),
    ]}  # fmt: skip

    # Accepted: the SMS is delivered, its link clicked, the chat starts and is handed to an agent.
    accepts = calls["accepts"]
    _deflected(app, accepts, clock)
    _status(app, accepts.call_sid, "sent")
    _status(app, accepts.call_sid, "delivered")
    body = _outbox(app, accepts.call_sid).body
    token = re.search(r"/l/([A-Za-z0-9_-]+)", body)
    assert token, body
    opened = client.get(f"/l/{token.group(1)}")
    if opened.status_code == 200:  # a page of channels: the caller taps WhatsApp
        opened = client.get(f"/l/{token.group(1)}/whatsapp")
    assert opened.status_code in (302, 303), opened.status_code
    with app.extensions["deflect"].database.session() as session:
        reference = session.scalars(select(Chat.reference).where(Chat.call_sid == accepts.call_sid)).one()
    chat = post_inbound(client, f"Здравствуйте, {reference}", sender=ACCEPTS, sid="SM" + "a" * 32)
    assert chat.status_code < 300
    run_jobs(app)

    # Declined: any other key; the caller then hangs up in the queue.
    declines = calls["declines"]
    declines.press(reach_offer(declines, clock), "2")
    declines.queue_result("hangup")
    declines.status("completed")

    # A landline, refused before any offer; an agent answers.
    landline = calls["landline"]
    assert not reach_offer(landline, clock).all("Gather")
    landline.queue_result("bridged")
    landline.status("completed")

    # A number that said STOP: refused; it hangs up without a queue result.
    stop = post_inbound(client, "СТОП", sender=OPTED_OUT, sid="SM" + "1" * 32, channel="sms")
    assert stop.status_code < 300
    opted_out = calls["opted_out"]
    assert not reach_offer(opted_out, clock).all("Gather")
    opted_out.status("completed")

    # The SMS is accepted by Twilio, then fails.
    sms_fails = calls["sms_fails"]
    _deflected(app, sms_fails, clock)
    _status(app, sms_fails.call_sid, "failed", ErrorCode="30008")

    # The next day the accepted caller rings again and an agent answers.
    clock.advance(timedelta(days=1).total_seconds())
    again = Call(client, caller=ACCEPTS)
    again.press(again.press(again.incoming(), "1"), "2")
    again.wait()
    again.queue_result("bridged")
    again.status("completed")
    calls["again"] = again
    return calls


def test_every_surface_counts_the_scripted_calls_exactly(
    reports_app: Any, clock: ManualClock, cli_env: None
) -> None:
    app = reports_app
    reports = app.extensions["deflect"].reports
    tz = reports.period("2000-01-01", "2000-01-01").tz
    first = clock.now().astimezone(tz).date()
    calls = _play_the_day(app, clock)
    second = clock.now().astimezone(tz).date()
    assert (second - first).days == 1
    run_jobs(app)
    list(reports.refresh())

    # The service.
    period = reports.period(first.isoformat(), second.isoformat())
    total = reports.total(period)
    assert {name: total.sums[name] for name in EXPECTED} == EXPECTED
    assert [step.count for step in total.funnel] == FUNNEL_COUNTS
    d = total.deflection
    assert (d.calls, d.deflected, d.net_short, d.net_long) == (6, 2, 2, 1)
    assert d.gross_rate == pytest.approx(2 / 6)
    assert d.net_short_rate == pytest.approx(2 / 6) and d.net_long_rate == pytest.approx(1 / 6)
    assert d.offer_take_rate == pytest.approx(2 / 3)
    by_day = reports.slices(period, "day")
    assert [(s.key, s.sums["calls"], s.sums["deflected"]) for s in by_day] == [
        (first.isoformat(), 5, 2),
        (second.isoformat(), 1, 0),
    ]
    by_channel = reports.slices(period, "channel")
    assert [(s.key, s.sums["calls"]) for s in by_channel] == [("whatsapp", 1), ("—", 5)]
    assert [{"reason": r, "calls": n} for r, n in reports.refusals(period)] == REFUSALS
    only_first = reports.total(reports.period(first.isoformat(), first.isoformat()))
    assert only_first.sums["calls"] == 5

    # The CLI's --json and the API's JSON: the same shapes, the same numbers.
    dates = ["--from", first.isoformat(), "--to", second.isoformat()]
    token = app.extensions["deflect"].tokens.add("correctness", actor="test")[1]
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    query = f"?from={first.isoformat()}&to={second.isoformat()}"
    for name in ("funnel", "deflection", "refusals"):
        printed = CliRunner().invoke(main, ["report", name, *dates, "--json"])
        assert printed.exit_code == 0, printed.output
        answered = api.get(f"/api/v1/reports/{name}{query}", headers=headers)
        assert answered.status_code == 200, answered.get_data(as_text=True)
        assert json.loads(printed.stdout) == answered.get_json()
    funnel = api.get(f"/api/v1/reports/funnel{query}", headers=headers).get_json()
    assert [step["count"] for step in funnel["slices"][0]["steps"]] == FUNNEL_COUNTS
    deflection = api.get(f"/api/v1/reports/deflection{query}&by=day", headers=headers).get_json()
    assert [(s["key"], s["calls"], s["deflected"], s["net_long"]) for s in deflection["slices"]] == [
        (first.isoformat(), 5, 2, 1),
        (second.isoformat(), 1, 0, 0),
    ]
    assert api.get(f"/api/v1/reports/refusals{query}", headers=headers).get_json()["refusals"] == REFUSALS
    table = CliRunner().invoke(main, ["report", "deflection", *dates])
    assert table.exit_code == 0 and "33.3%" in table.stdout and "16.7%" in table.stdout

    # The CSV export: one row per call, adding up to the totals; no full number anywhere.
    exported = CliRunner().invoke(main, ["report", "export", *dates])
    assert exported.exit_code == 0, exported.output
    from_api = api.get(f"/api/v1/reports/facts.csv{query}", headers=headers)
    assert from_api.mimetype == "text/csv"
    assert exported.stdout_bytes == from_api.get_data()  # byte for byte, CRLF line ends and all
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == EXPECTED["calls"]
    assert sorted(r["call_sid"] for r in rows) == sorted(c.call_sid for c in calls.values())
    assert sum(int(r["offers"]) > 0 for r in rows) == EXPECTED["offered"]
    assert sum(r["refusal"] != "" and int(r["offers"]) == 0 for r in rows) == EXPECTED["refused"]
    assert sum(r["declined"] == "True" for r in rows) == EXPECTED["declined"]
    assert sum(r["consented_at"] != "" for r in rows) == EXPECTED["consented"]
    assert sum(r["sms_status"] == "delivered" for r in rows) == EXPECTED["sms_delivered"]
    assert sum(r["sms_status"] == "failed" for r in rows) == EXPECTED["sms_failed"]
    assert sum(r["clicked_at"] != "" for r in rows) == EXPECTED["clicked"]
    assert sum(r["chat_at"] != "" for r in rows) == EXPECTED["chat_started"]
    assert sum(r["handed_off"] == "True" for r in rows) == EXPECTED["handed_off"]
    outcomes = [r["outcome"] for r in rows]
    assert (outcomes.count("deflected"), outcomes.count("agent"), outcomes.count("abandoned")) == (2, 2, 2)
    assert [r["sms_error"] for r in rows if r["sms_status"] == "failed"] == ["30008"]
    numbers = (ACCEPTS, DECLINES, LANDLINE, OPTED_OUT, SMS_FAILS)
    assert {r["caller"] for r in rows} == {"…" + n[-4:] for n in numbers}
    for number in numbers:
        assert number not in exported.stdout and number.lstrip("+") not in exported.stdout
    assert all(r["entered_at"].endswith("+03:00") for r in rows)  # in the report's zone, Moscow

    # The XLSX export holds the same rows.
    workbook = api.get(f"/api/v1/reports/facts.xlsx{query}", headers=headers)
    assert workbook.status_code == 200 and workbook.mimetype.endswith("spreadsheetml.sheet")
    with zipfile.ZipFile(io.BytesIO(workbook.get_data())) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count("<row ") == EXPECTED["calls"] + 1
    assert ACCEPTS not in sheet
