"""The player behind `deflect simulate` and the console's test calls: the real, signed webhooks played
as Twilio would, what the caller hears in order, and a stop at the prompt where the inputs run out."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from gateway import jobs
from gateway.flows import load_flow
from gateway.simulation.player import Heard, Player, Prompt, run_jobs
from gateway.store.models import DevInboxMessage

BANK = "+74952223344"
CALLER = "+79161234567"


def play(app: Any, *script: str) -> tuple[list[Heard], Prompt | None]:
    heard: list[Heard] = []
    items = list(script)
    player = Player(
        app,
        caller=CALLER,
        called=BANK,
        base_url="https://voice.example.test",
        hear=heard.append,
        inputs=lambda _prompt: items.pop(0) if items else None,
    )
    return heard, player.run()


def test_the_call_stops_at_the_prompt_where_the_inputs_run_out(app: Any) -> None:
    heard, prompt = play(app)
    assert heard[0] == Heard(
        "say", "Здравствуйте! Вы позвонили в службу поддержки банка.", "ru-RU", "incoming"
    )
    assert prompt == Prompt("keys", "menu", speech=True, num_digits=1, finish_on_key="#")


def test_the_offer_and_the_consent_are_told_apart_from_what_comes_before_them(app: Any) -> None:
    heard, prompt = play(app, "1", "2", "1")
    offer = [item for item in heard if item.stage == "offer" and item.asks]
    consent = [item for item in heard if item.stage == "consent" and item.asks]
    assert offer and offer[0].text.startswith("Не хотите ждать на линии?")
    assert consent and "Если вы согласны получить это сообщение" in consent[0].text
    assert [item.text for item in heard if item.kind == "input"] == ["1", "2", "1"]
    assert prompt is not None and prompt.stage == "consent" and prompt.queued


def test_a_queued_caller_is_asked_at_the_end_of_each_pass_of_hold_music(app: Any) -> None:
    heard, prompt = play(app, "1", "2", "", "w120")
    assert Heard("queued", "bank-cards", stage="menu") in heard
    assert prompt is not None and prompt.kind == "keys" and prompt.stage == "offer"
    assert prompt.waited == 120


def test_the_sms_job_runs_in_this_process_and_leaves_no_job_behind(app: Any) -> None:
    heard, prompt = play(app, "1", "2", "1", "1")
    assert prompt is None
    assert Heard("leave", stage="sending") in heard
    svc = app.extensions["deflect"]
    with svc.database.session() as session:
        assert session.query(DevInboxMessage).count() == 1
    assert svc.redis.keys("rq:job:*") == []


def test_jobs_run_with_the_services_of_their_own_thread(app: Any) -> None:
    seen: list[BaseException] = []

    def elsewhere() -> None:
        try:
            jobs.send_sms(1)
        except RuntimeError as exc:
            seen.append(exc)

    with jobs.running_with(app.extensions["deflect"]):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert seen and "no services bound" in str(seen[0])


def test_no_job_waiting_is_nothing_to_run(app: Any) -> None:
    assert run_jobs(app.extensions["deflect"]) == []


def test_the_offer_experiments_variant_is_heard_right_after_the_queue(app: Any) -> None:
    flow = load_flow(Path(__file__).parents[1] / "flows" / "offer_experiment.yaml")
    app.extensions["deflect"].registry.serve_only(flow)
    heard, prompt = play(app, "w60")
    queued = heard.index(Heard("queued", "bank-cards", stage="incoming"))
    variant = heard[queued + 1]
    assert variant.kind == "variant" and variant.text in ("early", "late")
    assert [item.kind for item in heard].count("variant") == 1
    # 60 s in the queue: the early variant's offer is due, the late one's is not.
    assert prompt is not None and prompt.stage == ("offer" if variant.text == "early" else "wait")
