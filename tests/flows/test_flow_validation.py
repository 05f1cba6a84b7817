"""The validator names file, line and step for every problem of a broken flow, all in one pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.flows import FlowError, FlowSet, Problem, format_problem, load_flows, parse_flow, validate_path
from tests.flows.helpers import flow_from

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: line=(\d+)(?: step=(\S+))? (.+)$")

VALID = """
id: {id}
locale: en-US
voice: Polly.Joanna
numbers: {numbers}
default: {default}
entry: bye
steps:
  bye:
    kind: hangup
    text: Goodbye.
"""


def _expected(path: Path) -> list[Problem]:
    """Every problem of the file, from its leading `# expect:` lines, in the order they are reported."""
    expected = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(text)
        if not match:
            break
        line, step, message = match.groups()
        expected.append(Problem(str(path), int(line), step, message))
    assert expected, f"{path.name} must start with '# expect: line=N [step=ID] message'"
    return expected


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_flow_reports_every_problem_with_line_and_step(path: Path) -> None:
    problems = validate_path(path)
    assert problems, "a broken flow must not validate"
    assert problems == _expected(path), [format_problem(p) for p in problems]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_parse_flow_raises_flow_error_listing_the_problems(path: Path) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(path.read_text(encoding="utf-8"), str(path))
    assert caught.value.problems == _expected(path)
    assert all(format_problem(p) in str(caught.value) for p in _expected(path))


def test_format_problem_reads_like_a_compiler_message() -> None:
    problem = Problem("ivr_flows/x.yaml", 12, "menu_main", "digit '1' is used twice")
    assert format_problem(problem) == "ivr_flows/x.yaml:12: step 'menu_main': digit '1' is used twice"
    assert format_problem(Problem("ivr_flows", None, None, "no flow")) == "ivr_flows: no flow"


def test_digit_written_as_text_and_number_is_still_a_repeat() -> None:
    text = """
id: t
locale: en-US
voice: Polly.Joanna
entry: m
steps:
  m:
    kind: menu
    prompt: Press 1.
    options:
      1: {next: bye}
      "1": {next: bye}
    no_input: bye
  bye: {kind: hangup}
"""
    with pytest.raises(FlowError) as caught:
        flow_from(text)
    assert [(p.line, p.step, p.message) for p in caught.value.problems] == [
        (12, "m", "digit '1' is used twice")
    ]


def test_speech_word_shared_by_two_options_is_reported() -> None:
    text = """
id: t
locale: en-US
voice: Polly.Joanna
entry: m
steps:
  m:
    kind: menu
    prompt: Say cards or loans.
    speech: true
    options:
      1: {next: bye, speech: [card]}
      2: {next: bye, speech: [Card]}
    no_input: bye
  bye: {kind: hangup}
"""
    with pytest.raises(FlowError) as caught:
        flow_from(text)
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (13, "speech word 'Card' is used by options '1' and '2'")
    ]


def test_transfer_needs_exactly_one_destination() -> None:
    text = """
id: t
locale: en-US
voice: Polly.Joanna
entry: out
steps:
  out:
    kind: transfer
    number: "+14155550123"
    sip: sip:desk@example.sip.twilio.com
"""
    with pytest.raises(FlowError) as caught:
        flow_from(text)
    assert [(p.line, p.step, p.message) for p in caught.value.problems] == [
        (7, "out", "give either 'number' or 'sip'")
    ]


def test_empty_and_non_mapping_documents_are_problems() -> None:
    with pytest.raises(FlowError, match="the file is empty"):
        parse_flow("", "empty.yaml")
    with pytest.raises(FlowError, match="must be a mapping"):
        parse_flow("- a\n- b\n", "list.yaml")


def _write(directory: Path, name: str, flow_id: str, numbers: str, default: bool) -> None:
    text = VALID.format(id=flow_id, numbers=numbers, default=str(default).lower())
    (directory / name).write_text(text, encoding="utf-8")


def test_two_flows_claiming_one_number_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "a", '["+14155550123"]', True)
    _write(tmp_path, "b.yaml", "b", '["+14155550199", "+14155550123"]', False)
    problems = validate_path(tmp_path)
    assert [(Path(p.file).name, p.line, p.message) for p in problems] == [
        ("b.yaml", 5, f"number +14155550123 is also claimed by {tmp_path / 'a.yaml'}")
    ]
    with pytest.raises(FlowError):
        load_flows(tmp_path)


def test_a_flow_set_needs_exactly_one_default(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "a", "[]", False)
    assert [p.message for p in validate_path(tmp_path)] == ["no flow is marked 'default: true'"]
    _write(tmp_path, "b.yaml", "b", "[]", True)
    _write(tmp_path, "c.yaml", "c", "[]", True)
    problems = validate_path(tmp_path)
    assert [(Path(p.file).name, p.line) for p in problems] == [("c.yaml", 6)]
    assert problems[0].message.startswith("a second default flow")


def test_flow_set_from_database_versions_checks_the_same_rules() -> None:
    a = flow_from(VALID.format(id="a", numbers='["+14155550123"]', default="true"))
    b = flow_from(VALID.format(id="b", numbers='["+14155550123"]', default="false"))
    with pytest.raises(FlowError, match=r"flow 'b': number \+14155550123 is also claimed"):
        FlowSet([a, b])
    flows = FlowSet([a])
    assert flows.for_number("+10000000000") is a and flows.get("a") is a and len(flows) == 1


def test_a_directory_without_flows_is_a_problem(tmp_path: Path) -> None:
    assert [p.message for p in validate_path(tmp_path)] == ["no flow files (*.yaml) found"]
    assert [p.message for p in validate_path(tmp_path / "nope.yaml")] == ["no such file or directory"]


def test_broken_file_in_a_directory_is_reported_with_its_line(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "a", "[]", True)
    (tmp_path / "b.yaml").write_text("id: b\nlocale: xx\n", encoding="utf-8")
    problems = validate_path(tmp_path)
    assert {(Path(p.file).name, p.line) for p in problems} >= {("b.yaml", 2)}


def test_a_repeated_key_in_a_shared_anchor_is_reported_once_where_it_is_written() -> None:
    text = """
id: t
locale: en-US
voice: Polly.Joanna
entry: a
steps:
  a:
    kind: enqueue
    queue: a
    wait: &wait
      announce_position: true
      announce_position: false
  b:
    kind: enqueue
    queue: b
    wait: *wait
"""
    with pytest.raises(FlowError) as caught:
        flow_from(text)
    repeated = [p for p in caught.value.problems if "repeated" in p.message]
    assert [(p.line, p.step, p.message) for p in repeated] == [
        (12, "a", "key 'announce_position' is repeated")
    ]


def test_unreadable_yaml_is_a_problem_not_a_crash() -> None:
    with pytest.raises(FlowError, match="YAML syntax"):
        parse_flow("id: x\n\x07\n", "bell.yaml")


def test_a_missing_flow_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="no such file or directory"):
        load_flows(tmp_path / "nowhere")
