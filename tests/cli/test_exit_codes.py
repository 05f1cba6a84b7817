"""Exit codes mean something, and a known failure is one line, not a traceback: 78 for a configuration
that is wrong, 69 for something needed that is not there, 1 for problems a command found."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_malformed_setting_ends_with_exit_code_78(cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    result = CliRunner().invoke(main, ["messaging", "pause", "-m", "load test"])
    assert result.exit_code == 78, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: configuration error: REDIS_URL must be a URL")


def test_a_broken_flow_in_the_flows_directory_ends_with_exit_code_78(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "ivr_flows", flows)
    shutil.copy(ROOT / "tests" / "flows" / "broken" / "unknown_step.yaml", flows)
    monkeypatch.setenv("DEFLECT_FLOWS_DIR", str(flows))
    result = CliRunner().invoke(main, ["messaging", "pause", "-m", "load test"])
    assert result.exit_code == 78, result.output
    assert "the IVR flows have problems" in result.output and "unknown_step.yaml:" in result.output


def test_a_database_without_its_schema_ends_with_one_line_and_exit_code_69(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = CliRunner().invoke(main, ["inbox", "list"])
    assert result.exit_code == 69, result.output
    assert result.output.strip().splitlines() == [
        "Error: the database cannot be used: no such table: local_outbox (run `deflect db upgrade`)"
    ]


def test_problems_found_end_with_exit_code_1(cli_env: None) -> None:
    result = CliRunner().invoke(main, ["flows", "validate", str(ROOT / "tests" / "flows" / "broken")])
    assert result.exit_code == 1
