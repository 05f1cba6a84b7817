"""One pass: every problem of a flow at once, and none that only an earlier problem caused."""

from __future__ import annotations

from pathlib import Path

from gateway.flows import Problem, format_problem, validate_path
from gateway.flows.loader import CheckedFlow, check_flow_text

HEAD = """\
id: t
locale: en-US
voice: Polly.Joanna
"""


def _found(text: str) -> list[tuple[int | None, str | None, str]]:
    checked = check_flow_text(HEAD + text, "t.yaml")
    return [(p.line, p.step, p.message) for p in checked.problems]


def test_a_typo_in_a_reference_does_not_also_report_the_step_it_meant_as_never_reached() -> None:
    text = """\
entry: main
steps:
  main:
    kind: menu
    prompt: For sales press 1, for support press 2.
    options:
      1: {next: sales}
      2: {next: suport}
    no_input: sales
  sales: {kind: enqueue, queue: sales}
  support: {kind: enqueue, queue: support}
  forgotten: {kind: hangup}
"""
    assert _found(text) == [
        (11, "main", "options.2.next refers to unknown step 'suport' (did you mean 'support'?)"),
        (15, "forgotten", "step is never reached from entry 'main'"),
    ]


def test_a_reference_that_resembles_no_step_may_have_meant_any_step() -> None:
    text = """\
entry: main
steps:
  main:
    kind: menu
    prompt: Press 1.
    options:
      1: {next: xyzzy}
    no_input: bye
  bye: {kind: hangup}
  elsewhere: {kind: hangup}
"""
    assert _found(text) == [(10, "main", "options.1.next refers to unknown step 'xyzzy'")]


def test_a_typo_in_the_entry_checks_reachability_from_the_step_it_meant() -> None:
    text = """\
entry: strat
steps:
  start: {kind: say, text: Hello., next: bye}
  bye: {kind: hangup}
  forgotten: {kind: hangup}
"""
    assert _found(text) == [
        (4, None, "entry refers to unknown step 'strat' (did you mean 'start'?)"),
        (8, "forgotten", "step is never reached from entry 'strat'"),
    ]


def test_a_digit_written_twice_does_not_also_report_the_step_its_first_option_led_to() -> None:
    text = """\
entry: main
steps:
  main:
    kind: menu
    prompt: Press 1 or 2.
    options:
      1: {next: sales}
      2: {next: support}
      1: {next: support}
    no_input: support
  sales: {kind: enqueue, queue: sales}
  support: {kind: enqueue, queue: support}
"""
    assert _found(text) == [(12, "main", "digit '1' is used twice")]


def test_a_step_defined_twice_keeps_what_its_first_definition_reached() -> None:
    text = """\
entry: hello
steps:
  hello: {kind: say, text: Hello., next: queue}
  queue: {kind: enqueue, queue: support, after: sorry}
  sorry: {kind: hangup, text: Sorry.}
  queue: {kind: enqueue, queue: support}
"""
    assert _found(text) == [(9, "queue", "step is defined twice")]


def test_a_step_with_a_missing_next_is_no_loop_and_hides_no_step() -> None:
    text = """\
entry: main
steps:
  main:
    kind: menu
    prompt: Press 1 to hear more.
    options:
      1: {next: more}
    no_input: main
  more:
    kind: say
    text: Here is more.
  bye: {kind: hangup}
"""
    assert _found(text) == [(12, "more", "'next' is required")]


def test_a_broken_step_still_has_its_unknown_references_reported() -> None:
    text = """\
entry: main
steps:
  main:
    kind: menu
    prompt: Press 1.
    promt: Press 1.
    options:
      1: {next: bye}
    no_input: by
  bye: {kind: hangup}
"""
    assert _found(text) == [
        (9, "main", "unknown field 'promt'"),
        (12, "main", "no_input refers to unknown step 'by' (did you mean 'bye'?)"),
    ]


def test_a_flow_with_only_graph_problems_is_returned_for_the_cross_checks() -> None:
    checked = check_flow_text((Path(__file__).parent / "broken" / "unreachable_step.yaml").read_text(), "u")
    assert checked.flow is not None and checked.flow.id == "unreachable-step"
    assert not checked.ok and [p.step for p in checked.problems] == ["forgotten"]
    broken = check_flow_text(HEAD + "entry: a\nsteps:\n  a: {kind: hangup, text: ''}\n", "b")
    assert broken.flow is None and [p.message for p in broken.problems] == ["text: text must not be empty"]
    good = check_flow_text(HEAD + "entry: a\nsteps:\n  a: {kind: hangup}\n", "g")
    assert good.ok and good.problems == ()


def test_a_flow_compiled_elsewhere_names_its_problems_by_flow_id() -> None:
    good = check_flow_text(HEAD + "entry: a\nsteps:\n  a: {kind: hangup}\n", "g")
    assert good.flow is not None
    stored = CheckedFlow.of(good.flow)
    assert stored.problem(("steps", "a"), "a", "x") == Problem("flow 't'", None, "a", "x")


def test_flows_that_can_be_read_are_checked_together_beside_a_broken_file(tmp_path: Path) -> None:
    for name, number, default in (("a", "+14155550123", "true"), ("b", "+14155550123", "false")):
        (tmp_path / f"{name}.yaml").write_text(
            HEAD.replace("id: t", f"id: {name}")
            + f'numbers: ["{number}"]\ndefault: {default}\nentry: x\nsteps:\n  x: {{kind: hangup}}\n',
            encoding="utf-8",
        )
    (tmp_path / "c.yaml").write_text("id: c\nlocale: xx\n", encoding="utf-8")
    problems = [format_problem(p) for p in validate_path(tmp_path)]
    claimed = f"{tmp_path / 'b.yaml'}:4: number +14155550123 is also claimed by {tmp_path / 'a.yaml'}"
    assert claimed in problems
    assert any(p.startswith(f"{tmp_path / 'c.yaml'}:2:") for p in problems)


def test_a_broken_file_may_be_the_default_so_no_missing_default_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD + "entry: x\nsteps:\n  x: {kind: hangup}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("id: b\ndefault: true\nlocale: xx\n", encoding="utf-8")
    messages = [p.message for p in validate_path(tmp_path)]
    assert messages and "no flow is marked 'default: true'" not in messages
