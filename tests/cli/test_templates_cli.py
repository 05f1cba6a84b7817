"""`deflect templates check`: what an SMS text costs."""

from __future__ import annotations

from click.testing import CliRunner

from gateway.cli import main


def test_templates_check_lists_encoding_and_segments(cli_env: None) -> None:
    result = CliRunner().invoke(main, ["templates", "check"])
    assert result.exit_code == 0, result.output
    assert "ru-RU/whatsapp_link: UCS-2" in result.output
    assert "en-US/whatsapp_link: GSM-7" in result.output
    strict = CliRunner().invoke(main, ["templates", "check", "--max-segments", "1"])
    assert "WARNING  ru-RU/whatsapp_link" in strict.output
