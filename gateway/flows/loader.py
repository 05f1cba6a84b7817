"""Load IVR flows from YAML (files, directories or text) and report every problem with file and line, in
one pass: a YAML error stops the file, anything else does not stop the checks of the rest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from gateway.flows.checks import check_outline
from gateway.flows.model import Flow, Step
from gateway.flows.outline import REFERENCE_FIELDS, Outline, Reference, read_references, targets
from gateway.flows.problems import (
    FlowError,
    Problem,
    Source,
    format_problem,
    in_file_order,
    pydantic_problem,
)

__all__ = [
    "CheckedFlow",
    "FlowError",
    "FlowSet",
    "Problem",
    "check_flow_text",
    "check_path",
    "flow_files",
    "format_problem",
    "load_flow",
    "load_flows",
    "parse_flow",
    "validate_path",
]

FLOW_SUFFIXES = (".yaml", ".yml")
# libyaml's parser when PyYAML was built with it (every wheel is): the same documents and marks, and
# parsing is what reading a flow costs (each process compiles every live flow).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STEP: TypeAdapter[Step] = TypeAdapter(Step)


@dataclass(frozen=True)
class CheckedFlow:
    """One flow's text after every check it can have on its own.

    `flow` is the validated flow when every field and step is valid; it may still have problems (the
    graph checks', or later the cross-checks'), and only a flow without problems may be served.
    `problems` are in file order. `problem()` locates a finding made later (a cross-check) in the text.
    """

    name: str
    flow: Flow | None
    problems: tuple[Problem, ...]
    source: Source = field(repr=False, compare=False)

    @classmethod
    def of(cls, flow: Flow, name: str | None = None) -> CheckedFlow:
        """A flow compiled elsewhere (a published version): its problems are located by name alone."""
        name = name or f"flow '{flow.id}'"
        return cls(name, flow, (), Source(name, None))

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.problems

    def problem(self, path: Sequence[Any], step: str | None, message: str) -> Problem:
        return self.source.problem(path, step, message)


def check_flow_text(text: str, name: str) -> CheckedFlow:
    """Check one flow's text (a file, a draft, a stored version) in one pass: YAML, every field and step
    on its own, then the graph checks over what validated; `name` is the file every problem names."""
    source, data, problems, lost = _compose(text, name)
    if data is None and not problems:
        problems.append(Problem(name, None, None, "the file is empty"))
    elif not isinstance(data, dict):
        if not problems:
            message = "a flow must be a mapping (id, locale, voice, entry, steps...)"
            problems.append(Problem(name, source.locate(())[0], None, message))
    else:
        flow, outline, found = _validate(data, source, lost)
        problems += found
        if outline is not None:
            problems += [source.problem(f.path, f.step, f.message) for f in check_outline(outline)]
        return CheckedFlow(name, flow, tuple(in_file_order(problems)), source)
    return CheckedFlow(name, None, tuple(problems), source)


def read_yaml(text: str, name: str) -> tuple[Source, Any, list[Problem]]:
    """Any YAML document of ours (flows, voice texts): its data, where each node is (for line numbers)
    and its problems (syntax, a key written twice)."""
    source, data, problems, _ = _compose(text, name)
    return source, data, problems


def _compose(text: str, name: str) -> tuple[Source, Any, list[Problem], dict[str, list[str]]]:
    try:
        return _compose_with(_SafeLoader, text, name)
    except yaml.YAMLError:
        pass  # said again below by the pure-Python parser, in its own (tested) words
    try:
        return _compose_with(yaml.SafeLoader, text, name)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = getattr(exc, "problem", None) or getattr(exc, "context", None) or exc
        message = f"YAML syntax: {detail}"
        return Source(name, None), None, [Problem(name, line, None, message)], {}


def _compose_with(
    loader_class: Any, text: str, name: str
) -> tuple[Source, Any, list[Problem], dict[str, list[str]]]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        source = Source(name, root)
        repeats = _Repeats(source)
        if root is not None:
            repeats.visit(root, ())
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return source, data, repeats.problems, repeats.lost


class _Repeats:
    """Keys written twice in one mapping: a dict would silently keep the last, so they are caught on
    the YAML nodes, and the steps the dropped value named are kept (`lost`) so that they are not also
    "never reached". A node reused through an alias (`*wait`) is checked once, where it is defined."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.lost: dict[str, list[str]] = {}
        self._seen: set[int] = set()

    def visit(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.visit(item, (*path, i))
        if not isinstance(node, yaml.MappingNode):
            return
        values: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in values:
                step, message = _repeated_message(path, key.value)
                self.problems.append(Problem(self.source.name, key.start_mark.line + 1, step, message))
                if step is not None:
                    self.lost.setdefault(step, []).extend(_references_in(key.value, values[key.value]))
            values[key.value] = value
            self.visit(value, (*path, key.value))


def _references_in(key: str, node: yaml.Node, seen: set[int] | None = None) -> list[str]:
    """The step ids written under `key`: the value itself, if `key` names a step, and what it holds."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return []
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        return [node.value] if key in REFERENCE_FIELDS else []
    found: list[str] = []
    if isinstance(node, yaml.MappingNode):
        for child_key, child in node.value:
            found += _references_in(getattr(child_key, "value", ""), child, seen)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            found += _references_in("", child, seen)
    return found


def _repeated_message(path: tuple[Any, ...], key: str) -> tuple[str | None, str]:
    if path == ("steps",):
        return key, "step is defined twice"
    step = str(path[1]) if len(path) >= 2 and path[0] == "steps" else None
    if len(path) == 3 and step is not None and path[2] == "options":
        return step, f"digit '{key}' is used twice"
    return step, f"key '{key}' is repeated"


def _validate(
    data: dict[str, Any], source: Source, lost: Mapping[str, Sequence[str]]
) -> tuple[Flow | None, Outline | None, list[Problem]]:
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [pydantic_problem(source, e) for e in errors]
        return None, _outline(data, errors, lost), list(dict.fromkeys(problems))
    return flow, Outline.of(flow, lost), []


def _outline(
    data: dict[str, Any], errors: Sequence[ErrorDetails], lost: Mapping[str, Sequence[str]]
) -> Outline | None:
    """The outline of a flow with broken parts: the steps that validate on their own, and what the
    others refer to as written; None when the steps themselves cannot be read."""
    raw_steps = data.get("steps")
    locs = [tuple(e["loc"]) for e in errors]
    if not isinstance(raw_steps, dict) or ("steps",) in locs:
        return None
    broken = {str(loc[1]) for loc in locs if len(loc) >= 2 and loc[0] == "steps"}
    steps: dict[str, Step | None] = {}
    references: dict[str, list[Reference]] = {}
    kinds: dict[str, str] = {}
    open_steps: set[str] = set()
    for key, raw in raw_steps.items():
        sid = str(key)
        # Valid in the flow, valid on its own: the whole flow's errors name no part of this step.
        step = None if sid in broken else _STEP.validate_python(raw)
        steps[sid] = step
        if step is not None:
            references[sid], kinds[sid] = targets(step), step.kind
            continue
        references[sid], complete = read_references(raw)
        if complete:
            kinds[sid] = raw["kind"]
        else:
            open_steps.add(sid)
    entry = data.get("entry")
    readable = isinstance(entry, str) and ("entry",) not in locs
    return Outline(entry if readable else None, steps, references, kinds, frozenset(open_steps), lost)


def parse_flow(text: str, source_name: str) -> Flow:
    """Parse and validate one flow from YAML text (a file, or a version stored in the database)."""
    checked = check_flow_text(text, source_name)
    if checked.problems or checked.flow is None:
        raise FlowError(checked.problems)
    return checked.flow


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_flow(path: str | Path) -> Flow:
    """Load and validate one flow file; raises FlowError."""
    path = Path(path)
    return parse_flow(_read(path), str(path))


def flow_files(directory: str | Path) -> list[Path]:
    """The flow files of a directory, in name order."""
    return sorted(p for p in Path(directory).iterdir() if p.suffix in FLOW_SUFFIXES and p.is_file())


class FlowSet:
    """The flows in service: find the flow for a called number, falling back to the default."""

    def __init__(self, flows: Iterable[Flow]) -> None:
        checked = [CheckedFlow.of(flow) for flow in flows]
        problems = _set_problems(checked)
        if problems:
            raise FlowError(problems)
        self._flows = {c.flow.id: c.flow for c in checked if c.flow is not None}
        self._by_number = {n: flow for flow in self._flows.values() for n in flow.numbers}
        self.default = next(flow for flow in self._flows.values() if flow.default)

    def for_number(self, called: str) -> Flow:
        """The flow answering `called` (E.164), or the default flow."""
        return self._by_number.get(called, self.default)

    def get(self, flow_id: str) -> Flow:
        """The flow with this id; raises KeyError."""
        return self._flows[flow_id]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self._flows.values())

    def __len__(self) -> int:
        return len(self._flows)


def _set_problems(checked: Sequence[CheckedFlow]) -> list[Problem]:
    """What only flows taken together can get wrong: ids and numbers used twice, the default flow. A
    flow whose fields could not be read is left out, and then a missing default is not reported: it
    may well be the one marked default."""
    problems: list[Problem] = []
    ids: dict[str, str] = {}
    owners: dict[str, str] = {}
    entries = [(c.flow, c) for c in checked if c.flow is not None]
    for flow, source in entries:
        if flow.id in ids:
            problems.append(
                source.problem(("id",), None, f"flow id '{flow.id}' is also used by {ids[flow.id]}")
            )
        ids.setdefault(flow.id, source.name)
        for i, number in enumerate(flow.numbers):
            if number in owners:
                problems.append(
                    source.problem(
                        ("numbers", i), None, f"number {number} is also claimed by {owners[number]}"
                    )
                )
            owners.setdefault(number, source.name)
    defaults = [(flow, source) for flow, source in entries if flow.default]
    if not defaults and len(entries) == len(checked):
        names = ", ".join(c.name for c in checked) or "no flows"
        problems.append(Problem(names, None, None, "no flow is marked 'default: true'"))
    for _, source in defaults[1:]:
        problems.append(
            source.problem(("default",), None, f"a second default flow (the first is {defaults[0][1].name})")
        )
    return problems


def check_path(path: str | Path) -> tuple[list[CheckedFlow], list[Problem]]:
    """Every flow file of `path` (one file, or a directory's flow files in name order) checked on its
    own, and the problems of the path as a whole: a directory's flows taken together, a path that
    is not there."""
    path = Path(path)
    if path.is_dir():
        checked = [check_flow_text(_read(p), str(p)) for p in flow_files(path)]
        if not checked:
            return [], [Problem(str(path), None, None, "no flow files (*.yaml) found")]
        return checked, _set_problems(checked)
    if not path.is_file():
        return [], [Problem(str(path), None, None, "no such file or directory")]
    return [check_flow_text(_read(path), str(path))], []


def validate_path(path: str | Path) -> list[Problem]:
    """Problems of one flow file, or of a directory of flows taken together ([] when all is well):
    each file's in file order, then those of the set."""
    checked, problems = check_path(path)
    return [p for c in checked for p in c.problems] + problems


def load_flows(directory: str | Path) -> FlowSet:
    """Load every flow file in a directory into a FlowSet; raises FlowError with all problems."""
    checked, problems = check_path(directory)
    problems = [p for c in checked for p in c.problems] + problems
    if problems:
        raise FlowError(problems)
    return FlowSet(c.flow for c in checked if c.flow is not None)
