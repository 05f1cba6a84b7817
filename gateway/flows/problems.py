"""What is wrong with a flow and where: a problem names the file, the line and the step, located on the
YAML nodes the flow was read from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic_core import ErrorDetails


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


def in_file_order(problems: Iterable[Problem]) -> list[Problem]:
    """Each file's problems by line (those of the whole file first), files in the order they came,
    the same problem once."""
    unique = list(dict.fromkeys(problems))
    files = {p.file: i for i, p in reversed(list(enumerate(unique)))}
    return sorted(unique, key=lambda p: (files[p.file], p.line or 0))


class Source:
    """A parsed YAML document that remembers where each value came from. Without a document (a flow
    compiled from elsewhere) every problem is located by `name` alone."""

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


def pydantic_problem(source: Source, error: ErrorDetails) -> Problem:
    """A pydantic validation error as a problem with its line, its step and a message naming the field."""
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
