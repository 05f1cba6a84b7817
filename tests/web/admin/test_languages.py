"""The console in Russian and English: every text a template or view asks for exists in both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.flows.diagram import CONDITIONS
from gateway.flows.outline import KINDS
from gateway.reporting.figures import FUNNEL
from gateway.users.roles import ROLES
from gateway.web.admin import i18n

ADMIN = Path(i18n.__file__).parent
LITERAL = re.compile(r"""\b_\(\s*["']([a-z0-9_.]*[a-z0-9_])["']\s*[,)]""")
# Keys a template builds from a value (`_("role." ~ user.role)`): every value they can take.
FAMILIES = {
    "role": list(ROLES),
    "kind": ["flow", "sms", "voice"],
    "draft": ["none", "ok", "problems", "stale"],
    "content.action": [
        "draft.saved",
        "draft.discarded",
        "content.published",
        "content.rolled_back",
        "content.imported",
        "content.import_refused",
        "content.publish_refused",
    ],
    "content.edge": list(CONDITIONS),
    "content.step": list(KINDS),
    "ops.kind": ["granted", "opt_out"],
    "reports.step": [name for name, _label in FUNNEL],
    "reports.slice": ["queue", "version", "channel", "locale", "variant", "day", "hour"],
    "reports.filter": ["queue", "flow_id", "flow_version", "channel", "locale"],
    "users.error": ["email", "role", "password", "exists", "missing", "self", "invalid", "mismatch"],
}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*ADMIN.rglob("*.html"), *ADMIN.rglob("*.py")]:
        keys |= set(LITERAL.findall(path.read_text(encoding="utf-8")))
    keys |= {f"{family}.{value}" for family, values in FAMILIES.items() for value in values}
    return keys


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_text_the_console_uses_exists_in(language: str) -> None:
    missing = sorted(used_keys() - i18n.catalog(language).keys())
    assert not missing, f"missing in {language}: {missing}"


def test_both_languages_have_the_same_texts() -> None:
    assert i18n.catalog("en").keys() == i18n.catalog("ru").keys()


def test_placeholders_match_between_languages() -> None:
    field = re.compile(r"\{(\w+)\}")
    for key, english in i18n.catalog("en").items():
        assert set(field.findall(english)) == set(field.findall(i18n.catalog("ru")[key])), key
