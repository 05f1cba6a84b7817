"""Start-up: what the gateway checks and says before it takes a call."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import SettingsError


def test_start_up_warns_about_sms_templates_over_the_segment_limit(make_app: Any, caplog: Any) -> None:
    make_app(DEFLECT_MAX_SEGMENTS="1")
    warnings = [r.getMessage() for r in caplog.records if "segments" in r.getMessage()]
    assert any(w.startswith("SMS template ru-RU/whatsapp_link takes 2 segments (UCS-2") for w in warnings)
    assert not any("en-US/whatsapp_link" in w for w in warnings)


def test_start_up_refuses_a_flow_naming_a_missing_sms_template(make_app: Any, tmp_path: Any) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).resolve().parents[1] / "ivr_flows", flows)
    english = flows / "en_support.yaml"
    english.write_text(
        english.read_text(encoding="utf-8").replace("sms_template: whatsapp_link", "sms_template: gone"),
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match="en-support/billing_queue: en-US/gone"):
        make_app(DEFLECT_FLOWS_DIR=str(flows))
