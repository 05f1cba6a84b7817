"""The engine turns (flow, step, call state, context) into TwiML, asserted on parsed XML."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.flows import (
    QUEUE_RESULTS,
    CallState,
    EngineError,
    QueueStats,
    enqueue_result,
    fallback_enqueue,
    handle_menu_input,
    hold_in_queue,
    run_step,
    transfer_result,
)
from gateway.flows.model import DEFAULT_HOLD_MUSIC
from tests.flows.helpers import NOW, URLS, ctx, flow_from, kinds, state_for, verbs, xml

FLOW = flow_from("""
id: shop
locale: ru-RU
voice: Polly.Tatyana
entry: hello
steps:
  hello:
    kind: say
    text: Здравствуйте!
    next: route
  route:
    kind: branch
    when:
      - open: false
        next: closed
      - caller_known: false
        next: main
      - caller_region: [KZ]
        caller_number_type: [mobile]
        next: kz_queue
      - queue_size_at_least: 10
        queue: sales
        next: busy
      - ewt_seconds_at_least: 600
        next: busy
    otherwise: main
  busy:
    kind: say
    play: https://cdn.example/busy.mp3
    next: main
  main:
    kind: menu
    prompt: Продажи — нажмите 1. Поддержка — нажмите 2.
    speech: true
    options:
      1: {next: sales, label: Продажи, speech: [продаж, купить]}
      2: {next: desk, label: Поддержка, speech: [поддерж]}
    retries: 1
    reprompt: Извините, я Вас не поняла.
    no_input: sales
    invalid: goodbye
  sales:
    kind: enqueue
    queue: sales
    retries: 1
    error_text: Извините, произошёл сбой.
    after: goodbye
  kz_queue:
    kind: enqueue
    queue: kz
  desk:
    kind: transfer
    number: "+74959876543"
    timeout: 20
    next: goodbye
  closed:
    kind: hangup
    text: Мы закрыты.
  goodbye:
    kind: hangup
    text: До свидания.
""")


def test_say_and_branch_steps_chain_into_the_menu_in_one_response() -> None:
    outcome = run_step(FLOW, "hello", state_for(FLOW), ctx(), URLS)
    root = xml(outcome)
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert root[0].text == "Здравствуйте!"
    assert root[0].attrib == {"voice": "Polly.Tatyana", "language": "ru-RU"}
    gather = root[1]
    assert gather.attrib == {
        "input": "dtmf speech",
        "numDigits": "1",
        "action": "https://gw.test/menu/main",
        "method": "POST",
        "timeout": "5",
        "language": "ru-RU",
        "speechTimeout": "auto",
        "hints": "продаж, купить, поддерж",
    }
    assert verbs(gather) == ["Say"] and gather[0].get("voice") == "Polly.Tatyana"
    assert root[2].text == "https://gw.test/menu/main" and root[2].get("method") == "POST"
    assert outcome.state.step == "main" and outcome.state.path == ["hello", "route", "main"]
    assert kinds(outcome) == ["call.step", "call.step", "branch.taken", "call.step"]
    assert outcome.events[2].data == {"step": "route", "rule": None, "next": "main"}


def test_engine_does_not_change_the_state_it_was_given() -> None:
    state = state_for(FLOW)
    before = state.to_dict()
    run_step(FLOW, "hello", state, ctx(), URLS)
    assert state.to_dict() == before


@pytest.mark.parametrize(
    ("changes", "context", "first_verb", "rule"),
    [
        ({}, {"open": False}, "Say", 0),
        ({"caller": None}, {}, "Gather", 1),
        ({"caller_region": "KZ"}, {}, "Enqueue", 2),
        ({"caller_region": "KZ", "caller_number_type": "fixed_line"}, {}, "Gather", None),
        ({}, {"queues": {"sales": QueueStats(size=12)}}, "Play", 3),
        ({}, {"queues": {"other": QueueStats(size=12)}}, "Gather", None),
        ({}, {"avg_wait_seconds": 900}, "Play", 4),
        ({}, {"avg_wait_seconds": None}, "Gather", None),
    ],
)
def test_branch_takes_the_first_rule_that_holds(
    changes: dict[str, Any], context: dict[str, object], first_verb: str, rule: int | None
) -> None:
    outcome = run_step(FLOW, "route", state_for(FLOW, **changes), ctx(**context), URLS)
    assert verbs(xml(outcome))[0] == first_verb
    assert outcome.events[1].kind == "branch.taken" and outcome.events[1].data["rule"] == rule


def test_closed_line_says_goodbye_and_hangs_up() -> None:
    root = xml(run_step(FLOW, "route", state_for(FLOW), ctx(open=False), URLS))
    assert verbs(root) == ["Say", "Hangup"] and root[0].text == "Мы закрыты."


def test_enqueue_step_waits_in_its_named_queue() -> None:
    outcome = run_step(FLOW, "sales", state_for(FLOW), ctx(), URLS)
    root = xml(outcome)
    assert verbs(root) == ["Enqueue"]
    assert root[0].text == "sales"
    assert root[0].attrib == {
        "action": "https://gw.test/enqueue-action",
        "method": "POST",
        "waitUrl": "https://gw.test/wait",
        "waitUrlMethod": "POST",
    }
    assert (outcome.state.queue, outcome.state.enqueued_at) == ("sales", NOW)
    assert kinds(outcome) == ["call.step", "queue.enqueued"]


def test_transfer_dials_the_number_and_asks_back_how_it_went() -> None:
    root = xml(run_step(FLOW, "desk", state_for(FLOW), ctx(), URLS))
    assert verbs(root) == ["Dial"]
    assert root[0].attrib == {"action": "https://gw.test/dial/desk", "method": "POST", "timeout": "20"}
    assert verbs(root[0]) == ["Number"] and root[0][0].text == "+74959876543"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("completed", ["Hangup"]),
        ("answered", ["Hangup"]),
        ("busy", ["Say", "Hangup"]),
        ("no-answer", ["Say", "Hangup"]),
        ("failed", ["Say", "Hangup"]),
    ],
)
def test_transfer_result_goes_on_only_when_nobody_answered(status: str, expected: list[str]) -> None:
    outcome = transfer_result(FLOW, "desk", state_for(FLOW, "desk"), ctx(), URLS, status)
    assert verbs(xml(outcome)) == expected
    assert outcome.events[0].kind == "transfer.result"


def test_menu_digit_goes_to_the_chosen_step_and_is_remembered() -> None:
    outcome = handle_menu_input(FLOW, "main", state_for(FLOW, "main"), ctx(), URLS, digits="1")
    assert verbs(xml(outcome)) == ["Enqueue"]
    assert outcome.state.choices == [{"step": "main", "digit": "1", "label": "Продажи"}]
    assert outcome.events[0].kind == "menu.choice"
    assert outcome.events[0].data["next"] == "sales"


def test_menu_understands_speech_by_word_stem() -> None:
    outcome = handle_menu_input(
        FLOW, "main", state_for(FLOW, "main"), ctx(), URLS, speech="Мне нужна поддержка, пожалуйста."
    )
    assert verbs(xml(outcome)) == ["Dial"]
    assert outcome.state.choices == [
        {"step": "main", "digit": "2", "label": "Поддержка", "speech": "Мне нужна поддержка, пожалуйста."}
    ]


def test_menu_accepts_a_spoken_digit() -> None:
    outcome = handle_menu_input(FLOW, "main", state_for(FLOW, "main"), ctx(), URLS, speech="2.")
    assert outcome.state.choices[0]["digit"] == "2"


def test_no_input_repeats_the_menu_then_takes_the_no_input_step() -> None:
    first = handle_menu_input(FLOW, "main", state_for(FLOW, "main"), ctx(), URLS)
    root = xml(first)
    assert verbs(root) == ["Gather", "Redirect"]
    assert [say.text for say in root[0]] == [
        "Извините, я Вас не поняла.",
        "Продажи — нажмите 1. Поддержка — нажмите 2.",
    ]
    assert first.state.retries == {"main": 1}
    assert first.events[0].kind == "menu.no_input" and first.events[0].data["attempt"] == 1
    second = handle_menu_input(FLOW, "main", first.state, ctx(), URLS, digits="")
    assert verbs(xml(second)) == ["Enqueue"]  # no_input: sales
    assert second.state.retries == {}
    assert second.events[0].data == {
        "step": "main",
        "attempt": 2,
        "exhausted": True,
        "digits": None,
        "speech": None,
    }


def test_invalid_input_repeats_the_menu_then_takes_the_invalid_step() -> None:
    first = handle_menu_input(FLOW, "main", state_for(FLOW, "main"), ctx(), URLS, digits="7")
    assert first.events[0].kind == "menu.invalid" and verbs(xml(first)) == ["Gather", "Redirect"]
    second = handle_menu_input(FLOW, "main", first.state, ctx(), URLS, speech="что-то другое")
    root = xml(second)
    assert verbs(root) == ["Say", "Hangup"] and root[0].text == "До свидания."


def test_menu_input_for_a_step_that_is_not_a_menu_is_an_engine_error() -> None:
    with pytest.raises(EngineError):
        handle_menu_input(FLOW, "sales", state_for(FLOW), ctx(), URLS, digits="1")
    with pytest.raises(EngineError):
        run_step(FLOW, "gone", state_for(FLOW), ctx(), URLS)


QUEUED: dict[str, Any] = {"step": "sales", "queue": "sales", "enqueued_at": NOW - 90}


@pytest.mark.parametrize(
    ("result", "deflected", "expected"),
    [
        ("bridged", False, ["Hangup"]),
        ("bridging-in-process", False, []),
        ("redirected", False, []),
        ("redirected-from-bridged", False, []),
        ("hangup", False, []),
        ("leave", True, ["Hangup"]),
        ("leave", False, ["Say", "Hangup"]),  # after: goodbye
        ("error", False, ["Say", "Enqueue"]),  # apologise, try again
        ("system-error", False, ["Say", "Enqueue"]),
        ("queue-full", False, ["Say", "Say", "Hangup"]),  # a full queue goes to after at once
    ],
)
def test_every_queue_result_gets_an_answer(result: str, deflected: bool, expected: list[str]) -> None:
    outcome = enqueue_result(FLOW, state_for(FLOW, **QUEUED), ctx(), URLS, result, deflected=deflected)
    assert verbs(xml(outcome)) == expected
    assert outcome.events[0].kind == "queue.result"
    assert outcome.events[0].data == {
        "result": result,
        "queue": "sales",
        "deflected": deflected,
        "waited_seconds": 90,
    }


def test_all_queue_results_are_covered_above() -> None:
    covered = {
        "bridged",
        "bridging-in-process",
        "redirected",
        "redirected-from-bridged",
        "hangup",
        "leave",
        "error",
        "system-error",
        "queue-full",
    }
    assert covered == set(QUEUE_RESULTS)


def test_queue_error_retries_once_then_goes_to_after() -> None:
    first = enqueue_result(FLOW, state_for(FLOW, **QUEUED), ctx(), URLS, "error")
    root = xml(first)
    assert root[0].text == "Извините, произошёл сбой." and root[1].text == "sales"
    assert first.state.enqueued_at == NOW - 90  # the caller's wait keeps counting
    assert "queue.retry" in kinds(first)
    second = enqueue_result(FLOW, first.state, ctx(), URLS, "system-error")
    assert verbs(xml(second)) == ["Say", "Say", "Hangup"]


def test_queue_error_without_after_hangs_up_once_retries_are_used() -> None:
    state = state_for(FLOW, step="kz_queue", queue="kz", enqueued_at=NOW)
    first = enqueue_result(FLOW, state, ctx(), URLS, "error")
    assert verbs(xml(first)) == ["Enqueue"]
    assert verbs(xml(enqueue_result(FLOW, first.state, ctx(), URLS, "error"))) == ["Hangup"]


def test_fallbacks_are_valid_twiml_without_a_flow() -> None:
    root = xml(hold_in_queue(DEFAULT_HOLD_MUSIC))
    assert verbs(root) == ["Play"] and root[0].get("loop") == "1"
    assert root[0].text == DEFAULT_HOLD_MUSIC
    root = xml(
        fallback_enqueue(
            "support", "https://gw.test/wait", "https://gw.test/done", "Please hold.", "Polly.Joanna", "en-US"
        )
    )
    assert verbs(root) == ["Say", "Enqueue"]
    assert root[0].attrib == {"voice": "Polly.Joanna", "language": "en-US"}
    assert root[1].text == "support" and root[1].get("waitUrl") == "https://gw.test/wait"
    assert verbs(xml(fallback_enqueue("support", "https://w", "https://a"))) == ["Enqueue"]


def test_call_state_survives_a_json_round_trip() -> None:
    outcome = handle_menu_input(FLOW, "main", state_for(FLOW, "main"), ctx(), URLS, digits="1")
    data = json.loads(json.dumps(outcome.state.to_dict()))
    assert CallState.from_dict({**data, "added_later": 1}) == outcome.state
    with pytest.raises(ValueError, match="call_sid"):
        CallState.from_dict({k: v for k, v in data.items() if k != "call_sid"})


def test_transfer_to_a_sip_address() -> None:
    flow = flow_from("""
id: sip
locale: en-US
voice: Polly.Joanna
entry: out
steps:
  out:
    kind: transfer
    sip: sip:desk@example.sip.twilio.com
""")
    root = xml(run_step(flow, "out", state_for(flow), ctx(), URLS))
    assert verbs(root[0]) == ["Sip"] and root[0][0].text == "sip:desk@example.sip.twilio.com"


def test_a_say_loop_that_slipped_past_the_loader_stops_with_an_engine_error() -> None:
    from gateway.flows import Flow

    flow = Flow.model_validate(
        {
            "id": "loop",
            "locale": "en-US",
            "voice": "Polly.Joanna",
            "entry": "a",
            "steps": {
                "a": {"kind": "say", "text": "A", "next": "b"},
                "b": {"kind": "say", "text": "B", "next": "a"},
            },
        }
    )
    with pytest.raises(EngineError, match="without waiting"):
        run_step(flow, "a", state_for(flow), ctx(), URLS)
