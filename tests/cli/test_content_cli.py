"""`deflect content`: the lifecycle from the command line, as a team with its flows in git uses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]
BANK_FLOW = ROOT / "ivr_flows" / "ru_bank_support.yaml"


def deflect(*args: str) -> Any:
    return CliRunner().invoke(main, ["content", *args])


def edited(tmp_path: Path) -> Path:
    path = tmp_path / BANK_FLOW.name
    path.write_text(
        BANK_FLOW.read_text(encoding="utf-8").replace("службу поддержки банка", "Пример Банк"),
        encoding="utf-8",
    )
    return path


def test_draft_diff_publish_rollback_and_history(app: Any, cli_env: None, tmp_path: Path) -> None:
    drafted = deflect("draft", "flow", str(edited(tmp_path)), "--by", "anna", "--json")
    assert drafted.exit_code == 0, drafted.output
    assert json.loads(drafted.stdout) == {
        "kind": "flow", "key": "ru-bank-support", "based_on": 1, "problems": []
    }  # fmt: skip
    diff = deflect("diff", "flow", "ru-bank-support")
    assert "-    text: Здравствуйте! Вы позвонили в службу поддержки банка." in diff.stdout
    assert "+    text: Здравствуйте! Вы позвонили в Пример Банк." in diff.stdout

    published = deflect(
        "publish", "flow", "ru-bank-support", "-m", "shorter greeting", "--by", "anna", "--json"
    )
    assert json.loads(published.stdout)["version"] == 2
    assert deflect("rollback", "flow", "ru-bank-support", "--to", "1", "--by", "boris").exit_code == 0
    assert "live already" in deflect("rollback", "flow", "ru-bank-support", "--to", "1").stdout

    history = json.loads(deflect("history", "flow", "ru-bank-support", "--json").stdout)
    assert [(v["version"], v["live"], v["author"]) for v in history] == [
        (2, False, "anna"),
        (1, True, "system"),
    ]
    listing = json.loads(deflect("list", "--json").stdout)
    assert {(i["kind"], i["key"], i["live"]) for i in listing} >= {("flow", "ru-bank-support", 1)}
    audit = json.loads(deflect("audit", "--subject", "flow:ru-bank-support", "--json").stdout)
    assert [e["action"] for e in audit][:3] == ["content.rolled_back", "content.published", "draft.saved"]


def test_a_broken_draft_is_kept_with_its_problems_and_exits_1(app: Any, cli_env: None) -> None:
    broken = ROOT / "tests" / "flows" / "broken" / "unknown_step.yaml"

    result = deflect("draft", "flow", str(broken))

    assert result.exit_code == 1
    assert "unknown_step.yaml:" in result.output
    status = json.loads(deflect("status", "flow", "unknown-step", "--json").stdout)
    assert status["draft"]["state"] == "problems" and status["live"] is None
    assert deflect("publish", "flow", "unknown-step", "-m", "x").exit_code == 1


def test_export_to_a_directory_and_import_it_back_makes_no_version(
    app: Any, cli_env: None, tmp_path: Path
) -> None:
    exported = deflect("export", "--to", str(tmp_path), "--json")
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "ivr_flows" / BANK_FLOW.name).read_bytes() == BANK_FLOW.read_bytes()

    imported = deflect("import", "--from", str(tmp_path), "--json")

    assert imported.exit_code == 0, imported.output
    assert not any(o["created"] for o in json.loads(imported.stdout))


def test_a_discarded_draft_is_gone_and_the_live_version_stays(
    app: Any, cli_env: None, tmp_path: Path
) -> None:
    assert deflect("draft", "flow", str(edited(tmp_path)), "--by", "anna").exit_code == 0

    discarded = deflect("discard", "flow", "ru-bank-support", "--by", "anna", "--json")

    assert discarded.exit_code == 0, discarded.output
    assert json.loads(discarded.stdout) == {"kind": "flow", "key": "ru-bank-support", "discarded": True}
    status = json.loads(deflect("status", "flow", "ru-bank-support", "--json").stdout)
    assert (status["live"], status["draft"]) == (1, None)
    again = deflect("discard", "flow", "ru-bank-support")
    assert again.exit_code == 1 and "flow ru-bank-support has no draft" in again.output
    audit = json.loads(deflect("audit", "--subject", "flow:ru-bank-support", "--json").stdout)
    assert [(e["actor"], e["action"]) for e in audit][:2] == [
        ("anna", "draft.discarded"),
        ("anna", "draft.saved"),
    ]
