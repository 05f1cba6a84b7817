"""The README's own example commands, read from the README, so the tests run exactly what it shows."""

from __future__ import annotations

import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> tuple[list[str], list[str]]:
    """The scripted `simulate` line and the `inbox list` line of "Trying a flow without a phone",
    as `deflect` arguments."""
    section = README.read_text(encoding="utf-8").split("## Trying a flow without a phone", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    commands = [words[1:] for words in lines if words and words[0] == ".venv/bin/deflect"]
    simulate = next(c for c in commands if c[0] == "simulate" and "--keys" in c)
    inbox = next(c for c in commands if c[:2] == ["inbox", "list"])
    return simulate, inbox


def readme_lifecycle_commands() -> list[list[str]]:
    """The commands of "One lifecycle: draft, publish, rollback", in order, as `deflect` arguments."""
    section = README.read_text(encoding="utf-8").split("### One lifecycle: draft, publish, rollback", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [words[1:] for words in lines if words and words[0] == "$D"]
