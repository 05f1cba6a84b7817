"""/metrics: what a played call moves, the installation's figures read at the scrape, and who may scrape
(a bearer token, allowed networks, nobody by default)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.clock import ManualClock
from gateway.store.models import Chat, SmsOutbox
from tests.deflection.conftest import reach_consent, run_jobs
from tests.support.calls import PUBLIC_BASE, Call, sign
from tests.support.messages import post_inbound
from tests.support.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-" + "m" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Any) -> str:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return str(response.get_data(as_text=True))


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metrics_app(make_app: Any) -> Any:
    return make_app(DEFLECT_METRICS_TOKEN=TOKEN)


def test_a_played_call_moves_the_counters_and_no_number_reaches_the_labels(
    metrics_app: Any, clock: ManualClock
) -> None:
    client = metrics_app.test_client()
    before = samples(scrape(client))
    call = Call(client)
    consent = reach_consent(call, clock)  # menu, queue, the offer played and accepted
    sending = call.press(consent, "1")  # consent: the SMS is in the outbox
    assert sending.status == 200
    waiting = samples(scrape(client))
    clock.advance(7)
    assert value(samples(scrape(client)), "deflect_outbox_oldest_pending_age_seconds") == 7
    assert value(waiting, "deflect_rq_queue_jobs", queue="default") == 1

    run_jobs(metrics_app)  # the SMS leaves (the dev inbox here)
    text = scrape(client)
    after = samples(text)

    for outcome in ("made", "accepted", "sms_queued"):
        assert value(after, "deflect_offers_total", outcome=outcome) == (
            value(before, "deflect_offers_total", outcome=outcome) + 1
        )
    incoming = ("deflect_webhook_duration_seconds_count", {"route": "/twilio/voice/incoming"})
    assert value(after, incoming[0], **incoming[1]) == value(before, incoming[0], **incoming[1]) + 1
    assert value(after, "deflect_webhook_duration_seconds_count", route="/twilio/voice/menu/<step_id>") >= 2
    assert value(after, "deflect_webhook_duration_seconds_count", route="/twilio/voice/consent") == 1
    assert value(after, "deflect_outbox_oldest_pending_age_seconds") == 0
    assert value(after, "deflect_rq_queue_jobs", queue="default") == 0
    with metrics_app.extensions["deflect"].database.session() as session:
        [row] = session.query(SmsOutbox).all()
    assert value(after, "deflect_sms_last_hour", status=row.status, error_code="none") == 1
    # The carrier's word comes back: undelivered, with its error code; the outbox path is the route.
    path = f"/twilio/messaging/status/{row.id}"
    status = {"MessageSid": row.provider_sid or "", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    headers = {"X-Twilio-Signature": sign(PUBLIC_BASE + path, status)}
    assert client.post(path, data=status, headers=headers, base_url=PUBLIC_BASE).status_code == 204
    text = scrape(client)
    after = samples(text)
    assert value(after, "deflect_sms_last_hour", status="undelivered", error_code="30003") == 1
    assert value(after, "deflect_sms_last_hour", status=row.status, error_code="none") == 0
    route = "/twilio/messaging/status/<int:outbox_id>"
    assert value(after, "deflect_webhook_duration_seconds_count", route=route) == 1
    assert value(after, "deflect_figures_up", source="database") == 1
    assert value(after, "deflect_figures_up", source="redis") == 1
    # Routes are URL rules; no caller's number, CallSid or message body in any label or value.
    secrets = (call.caller, call.caller[1:], call.call_sid, row.body, "/twilio/voice/menu/main_menu", path)
    for secret in secrets:
        assert secret not in text


def test_a_chat_that_continues_the_call_is_counted_and_its_hand_off_waits_until_delivered(
    metrics_app: Any, clock: ManualClock
) -> None:
    client = metrics_app.test_client()
    call = Call(client)
    call.press(reach_consent(call, clock), "1")
    run_jobs(metrics_app)
    with metrics_app.extensions["deflect"].database.session() as session:
        [chat] = session.query(Chat).all()
        reference = chat.reference
    assert post_inbound(client, f"Здравствуйте! {reference}", sender=call.caller).status_code == 200
    found = samples(scrape(client))
    assert value(found, "deflect_chats_started_total", channel="whatsapp") == 1
    assert value(found, "deflect_handoffs_waiting", adapter="card", status="pending") == 1
    assert value(found, "deflect_webhook_duration_seconds_count", route="/twilio/messaging/inbound") == 1
    run_jobs(metrics_app)  # delivered: nothing waits any more
    found = samples(scrape(client))
    assert not any(name == "deflect_handoffs_waiting" for name, _ in found)


def test_a_fallback_is_counted_by_route_and_reason(metrics_app: Any) -> None:
    client = metrics_app.test_client()
    lost = Call(client)  # never came in: its state is not there
    twiml = lost.wait()
    assert twiml.status == 200 and twiml.verbs() == ["Play"]
    found = samples(scrape(client))
    assert value(found, "deflect_twiml_fallbacks_total", route="/twilio/voice/wait", reason="state_lost") == 1


def test_figures_of_a_source_that_is_down_are_left_out_and_the_scrape_still_answers(
    make_app: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    app = make_app(
        DEFLECT_METRICS_TOKEN=TOKEN, REDIS_URL=server.url, DATABASE_URL="postgresql://nobody@127.0.0.1:1/x"
    )
    server.stop()
    with caplog.at_level(logging.WARNING, logger="gateway.web.metrics"):
        found = samples(scrape(app.test_client()))
    assert value(found, "deflect_figures_up", source="database") == 0
    assert value(found, "deflect_figures_up", source="redis") == 0
    assert not any(name.startswith(("deflect_outbox", "deflect_rq_")) for name, _ in found)
    assert any("figures unavailable" in r.getMessage() for r in caplog.records)


def test_metrics_are_off_unless_a_token_or_networks_are_set(client: Any) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


def test_a_scrape_without_the_token_is_refused(metrics_app: Any) -> None:
    client = metrics_app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "deflect_" not in refused.get_data(as_text=True)
    for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}", "Bearer"):
        assert client.get("/metrics", headers={"Authorization": wrong}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


def test_networks_let_in_their_own_clients_only(make_app: Any) -> None:
    loopback = make_app(DEFLECT_METRICS_NETWORKS="127.0.0.0/8, ::1/128").test_client()
    assert loopback.get("/metrics").status_code == 200
    assert loopback.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    # Relayed by a proxy this gateway does not trust: the address is the proxy's, not the client's.
    assert loopback.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404

    elsewhere = make_app(DEFLECT_METRICS_NETWORKS="10.0.0.0/8").test_client()
    assert elsewhere.get("/metrics").status_code == 404
    assert elsewhere.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_is_checked(make_app: Any) -> None:
    app = make_app(DEFLECT_METRICS_NETWORKS="10.0.0.0/8", TRUSTED_PROXY_COUNT="1")
    client = app.test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.9.8.7"}).status_code == 200
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


def test_with_a_token_and_networks_both_are_required(make_app: Any) -> None:
    client = make_app(DEFLECT_METRICS_TOKEN=TOKEN, DEFLECT_METRICS_NETWORKS="127.0.0.1/32").test_client()
    assert client.get("/metrics", headers=AUTH).status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=AUTH, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 404


def test_a_short_token_or_a_malformed_network_stops_the_start(make_app: Any) -> None:
    from gateway.settings import SettingsError

    with pytest.raises(SettingsError, match="DEFLECT_METRICS_TOKEN"):
        make_app(DEFLECT_METRICS_TOKEN="short")
    with pytest.raises(SettingsError, match="DEFLECT_METRICS_NETWORKS"):
        make_app(DEFLECT_METRICS_NETWORKS="10.0.0.0/33")


def test_every_metric_the_alerts_use_is_in_the_scrape(metrics_app: Any) -> None:
    rules = yaml.safe_load((ROOT / "docs" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} == {
        "DeflectTwimlFallbacks",
        "DeflectSmsFailures",
        "DeflectOutboxStuck",
    }
    used = {name for rule in alerts for name in re.findall(r"\bdeflect_[a-z_]+", rule["expr"])}
    client = metrics_app.test_client()
    Call(client).wait()  # a fallback: every counter the rules use has a sample
    names = {name for name, _ in samples(scrape(client))}
    names |= {m.group(1) for m in re.finditer(r"^# TYPE (\S+)", scrape(client), re.MULTILINE)}
    assert used and used <= names, used - names


def test_a_timing_that_cannot_be_written_never_costs_the_caller_the_twiml(
    metrics_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under gunicorn an observation writes a file (PROMETHEUS_MULTIPROC_DIR): a full disk or a tmp
    # cleaner must not turn the answer already made into a 500 from the request's teardown.
    def broken(*_: Any) -> Any:
        raise OSError("No space left on device")

    monkeypatch.setattr(metrics_app.extensions["deflect"].metrics.webhook_seconds, "labels", broken)
    twiml = Call(metrics_app.test_client()).incoming()
    assert twiml.status == 200 and twiml.verbs()
