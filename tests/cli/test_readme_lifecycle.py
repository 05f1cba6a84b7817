"""The README's lifecycle commands, run as written, in order, on a checkout whose Russian greeting an
admin has just edited: each succeeds, and they do what the comments say."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from tests.support.readme import readme_lifecycle_commands

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lifecycle_runs_as_written(
    app: Any, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for directory in ("ivr_flows", "sms_templates", "voice_texts"):
        shutil.copytree(ROOT / directory, tmp_path / directory)
    bank = tmp_path / "ivr_flows" / "ru_bank_support.yaml"
    bank.write_text(
        bank.read_text(encoding="utf-8").replace("службу поддержки банка", "Пример Банк"), "utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEFLECT_TELEGRAM_BOT", "example_bank_bot")  # the Russian flow offers Telegram too
    commands = readme_lifecycle_commands()
    assert [c[:2] for c in commands][:3] == [["content", "list"], ["content", "draft"], ["content", "draft"]]

    for command in commands:
        if command[0] == "simulate":
            command = [*command, "--keys", "q"]  # the README's is interactive: hang up after the greeting
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, (command, result.output)
        if command[0] == "simulate":
            assert "Вы позвонили в Пример Банк" in result.output

    runner = CliRunner()
    history = json.loads(
        runner.invoke(main, ["content", "history", "flow", "ru-bank-support", "--json"]).stdout
    )
    assert [(v["version"], v["live"], v["comment"]) for v in history][0] == (2, False, "shorter greeting")
    assert history[-1]["live"] is True  # rolled back to version 1
    exported = tmp_path / "exported" / "ivr_flows" / "ru_bank_support.yaml"
    assert exported.read_bytes() == (ROOT / "ivr_flows" / "ru_bank_support.yaml").read_bytes()
    audit = json.loads(runner.invoke(main, ["content", "audit", "--json"]).stdout)
    assert {"draft.saved", "content.published", "content.rolled_back"} <= {e["action"] for e in audit}
