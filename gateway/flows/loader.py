"""Load IVR flows from YAML (files, directories or text) and report every problem with file and line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.flows.checks import Finding, check_flow
from gateway.flows.model import Flow

FLOW_SUFFIXES = (".yaml", ".yml")
# libyaml's parser when PyYAML was built with it (every wheel is): the same documents and marks, and
# parsing is what reading a flow costs (each process compiles every live flow).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow: where (file, line, step) and what."""

    file: str
    line: int | None
    step: str | None
    message: str


class FlowError(Exception):
    """A flow (or a set of flows) cannot be used; `problems` says why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(format_problem(p) for p in self.problems))


def format_problem(problem: Problem) -> str:
    """'ivr_flows/x.yaml:12: step 'menu_main': digit '1' is used twice'."""
    where = problem.file if problem.line is None else f"{problem.file}:{problem.line}"
    step = f" step '{problem.step}':" if problem.step is not None else ""
    return f"{where}:{step} {problem.message}"


class _Source:
    """A parsed YAML document that remembers where each value came from."""

    def __init__(self, name: str, root: yaml.Node | None) -> None:
        self.name = name
        self.root = root

    def locate(self, path: Iterable[Any]) -> tuple[int | None, list[Any]]:
        """Line of the deepest node on `path` and the path parts that matched; parts that do not
        match (pydantic's union tags, a missing field) are skipped."""
        node = self.root
        if node is None:
            return None, []
        line, matched = node.start_mark.line + 1, []
        for part in path:
            if isinstance(node, yaml.MappingNode):
                pairs = [(k, v) for k, v in node.value if getattr(k, "value", None) == str(part)]
                if pairs:
                    key, node = pairs[-1]  # a YAML mapping keeps the last of repeated keys
                    line = key.start_mark.line + 1
                    matched.append(part)
            elif (
                isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
                matched.append(part)
        return line, matched

    def problem(self, path: Sequence[Any], step: str | None, message: str) -> Problem:
        return Problem(self.name, self.locate(path)[0], step, message)


def _compose(text: str, name: str) -> tuple[_Source, Any, list[Problem]]:
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
        return _Source(name, None), None, [Problem(name, line, None, message)]


def _compose_with(loader_class: Any, text: str, name: str) -> tuple[_Source, Any, list[Problem]]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        source = _Source(name, root)
        problems = _repeated_keys(source, root, (), set()) if root is not None else []
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return source, data, problems


def _repeated_keys(
    source: _Source, node: yaml.Node, path: tuple[Any, ...], seen_nodes: set[int]
) -> list[Problem]:
    """A dict would silently keep the last of two equal keys; catch them on the YAML nodes.
    A node reused through an alias (`*wait`) is checked once, where it is defined."""
    problems: list[Problem] = []
    if id(node) in seen_nodes:
        return problems
    seen_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _repeated_keys(source, item, (*path, i), seen_nodes)
    if not isinstance(node, yaml.MappingNode):
        return problems
    seen: set[str] = set()
    for key, value in node.value:
        if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
            continue
        if key.value in seen:
            problems.append(
                Problem(source.name, key.start_mark.line + 1, *_repeated_message(path, key.value))
            )
        seen.add(key.value)
        problems += _repeated_keys(source, value, (*path, key.value), seen_nodes)
    return problems


def _repeated_message(path: tuple[Any, ...], key: str) -> tuple[str | None, str]:
    if path == ("steps",):
        return key, "step is defined twice"
    step = str(path[1]) if len(path) >= 2 and path[0] == "steps" else None
    if len(path) == 3 and step is not None and path[2] == "options":
        return step, f"digit '{key}' is used twice"
    return step, f"key '{key}' is repeated"


def _pydantic_problem(source: _Source, error: ErrorDetails) -> Problem:
    loc = error["loc"]
    line, matched = source.locate(loc)
    step = str(matched[1]) if len(matched) >= 2 and matched[0] == "steps" else None
    where = matched[2:] if step is not None else matched
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing":
        message = f"'{loc[-1]}' is required"
    elif kind == "extra_forbidden":
        where, message = where[:-1], f"unknown field '{loc[-1]}'"
    elif kind == "union_tag_invalid":
        message = f"unknown step kind '{ctx.get('tag')}' (expected {ctx.get('expected_tags')})"
    elif kind == "union_tag_not_found":
        message = "'kind' is required (say, menu, enqueue, transfer, hangup or branch)"
    else:
        message = error["msg"].removeprefix("Value error, ")
    field = ".".join(str(p) for p in where)
    return Problem(source.name, line, step, f"{field}: {message}" if field else message)


def _parse(text: str, name: str) -> tuple[Flow | None, _Source, list[Problem]]:
    source, data, problems = _compose(text, name)
    if data is None and not problems:
        return None, source, [Problem(name, None, None, "the file is empty")]
    if not isinstance(data, dict):
        if not problems:
            problems.append(
                Problem(
                    name,
                    source.locate(())[0],
                    None,
                    "a flow must be a mapping (id, locale, voice, entry, steps...)",
                )
            )
        return None, source, problems
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        found = [_pydantic_problem(source, e) for e in exc.errors()]
        return None, source, problems + list(dict.fromkeys(found))
    findings: list[Finding] = check_flow(flow)
    problems += [source.problem(f.path, f.step, f.message) for f in findings]
    return flow, source, problems


def parse_flow(text: str, source_name: str) -> Flow:
    """Parse and validate one flow from YAML text (a file, or a version stored in the database)."""
    flow, _, problems = _parse(text, source_name)
    if problems or flow is None:
        raise FlowError(problems)
    return flow


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
        entries = [(flow, _Source(f"flow '{flow.id}'", None)) for flow in flows]
        problems = _set_problems(entries)
        if problems:
            raise FlowError(problems)
        self._flows = {flow.id: flow for flow, _ in entries}
        self._by_number = {n: flow for flow, _ in entries for n in flow.numbers}
        self.default = next(flow for flow, _ in entries if flow.default)

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


def _set_problems(entries: Sequence[tuple[Flow, _Source]]) -> list[Problem]:
    problems: list[Problem] = []
    ids: dict[str, str] = {}
    owners: dict[str, str] = {}
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
    if not defaults:
        names = ", ".join(s.name for _, s in entries) or "no flows"
        problems.append(Problem(names, None, None, "no flow is marked 'default: true'"))
    for _, source in defaults[1:]:
        problems.append(
            source.problem(("default",), None, f"a second default flow (the first is {defaults[0][1].name})")
        )
    return problems


def _load_dir(directory: Path) -> tuple[list[tuple[Flow, _Source]], list[Problem]]:
    entries: list[tuple[Flow, _Source]] = []
    problems: list[Problem] = []
    files = flow_files(directory)
    if not files:
        problems.append(Problem(str(directory), None, None, "no flow files (*.yaml) found"))
    for path in files:
        flow, source, found = _parse(_read(path), str(path))
        problems += found
        if flow is not None and not found:
            entries.append((flow, source))
    if not problems:
        problems += _set_problems(entries)
    return entries, problems


def load_flows(directory: str | Path) -> FlowSet:
    """Load every flow file in a directory into a FlowSet; raises FlowError with all problems."""
    entries, problems = _load_dir(Path(directory))
    if problems:
        raise FlowError(problems)
    return FlowSet(flow for flow, _ in entries)


def validate_path(path: str | Path) -> list[Problem]:
    """Problems of one flow file, or of a directory of flows taken together ([] when all is well)."""
    path = Path(path)
    if path.is_dir():
        return _load_dir(path)[1]
    if not path.is_file():
        return [Problem(str(path), None, None, "no such file or directory")]
    return _parse(_read(path), str(path))[2]
