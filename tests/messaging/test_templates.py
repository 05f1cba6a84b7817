"""SMS templates: every shipped file loads and renders within its segment budget; mistakes in a
template are reported with the file and the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.messaging.templates import (
    SAMPLE_VALUES,
    TemplateError,
    TemplateSet,
    check_templates,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "sms_templates"
SHIPPED = sorted(TEMPLATES_DIR.glob("*/*.txt"))
MAX_SEGMENTS = 2


@pytest.fixture(scope="module")
def shipped() -> TemplateSet:
    return TemplateSet.load(TEMPLATES_DIR)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_template_renders_within_two_segments(shipped: TemplateSet, path: Path) -> None:
    locale, name = path.parent.name, path.stem
    message = shipped.render(locale, name, **SAMPLE_VALUES)
    assert message.body == message.body.strip()
    assert str(SAMPLE_VALUES["reference"]) in message.body
    assert str(SAMPLE_VALUES["brand"]) in message.body
    assert message.segments.segments in range(1, MAX_SEGMENTS + 1)
    assert shipped.sample(locale, name) == message


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_template_passes_the_check(path: Path) -> None:
    report = next(
        r for r in check_templates(TEMPLATES_DIR) if (r.locale, r.name) == (path.parent.name, path.stem)
    )
    assert report.ok, (report.errors, report.warnings)


def test_the_expected_texts_ship_in_russian_and_english(shipped: TemplateSet) -> None:
    for locale in ("ru-RU", "en-US"):
        assert {"whatsapp_link", "channel_choice", "chat_ack"} <= set(shipped.names(locale))


def test_link_messages_put_the_link_last_so_no_punctuation_sticks_to_it(shipped: TemplateSet) -> None:
    for locale in shipped.locales:
        for name in ("whatsapp_link", "channel_choice"):
            body = shipped.sample(locale, name).body
            assert body.endswith(str(SAMPLE_VALUES["link"]))


def test_russian_texts_are_ucs2_and_english_texts_gsm7(shipped: TemplateSet) -> None:
    assert shipped.sample("ru-RU", "whatsapp_link").segments.encoding == "UCS-2"
    assert shipped.sample("en-US", "whatsapp_link").segments.encoding == "GSM-7"
    assert shipped.sample("en-US", "whatsapp_link").segments.segments == 1


def test_trailing_newline_is_stripped_and_nothing_is_html_escaped(tmp_path: Path) -> None:
    write(tmp_path, "en-US/whatsapp_link.txt", "{{ brand }} & co: {{ link }}\n\n")
    templates = TemplateSet.load(tmp_path)
    message = templates.render("en-US", "whatsapp_link", brand="<A&B>", link="https://x.example/?a=1&b=2")
    assert message.body == "<A&B> & co: https://x.example/?a=1&b=2"


def test_minutes_waited_is_optional(tmp_path: Path) -> None:
    texts = {("en-US", "wait"): "{{ brand }}{% if minutes_waited %}: {{ minutes_waited }} min{% endif %}."}
    templates = TemplateSet.from_texts(texts)
    assert templates.render("en-US", "wait", brand="B").body == "B."
    assert templates.render("en-US", "wait", brand="B", minutes_waited=7).body == "B: 7 min."


def test_missing_variable_names_the_file_and_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "ru-RU/whatsapp_link.txt", "{{ brand }}: {{ link }}")
    templates = TemplateSet.load(tmp_path)
    with pytest.raises(TemplateError) as caught:
        templates.render("ru-RU", "whatsapp_link", brand="Банк")
    assert caught.value.variable == "link"
    assert str(path) in str(caught.value)
    assert "'link'" in str(caught.value)


def test_none_counts_as_missing() -> None:
    templates = TemplateSet.from_texts({("en-US", "x"): "{{ reference }}"})
    with pytest.raises(TemplateError, match="missing variable 'reference'"):
        templates.render("en-US", "x", reference=None)


def test_misspelt_variable_in_a_file_fails_at_load_time(tmp_path: Path) -> None:
    path = write(tmp_path, "en-US/chat_ack.txt", "Thanks, ref {{ referance }}")
    with pytest.raises(TemplateError) as caught:
        TemplateSet.load(tmp_path)
    assert caught.value.variable == "referance"
    assert caught.value.source == str(path)


def test_misspelt_value_passed_by_the_caller_is_refused() -> None:
    templates = TemplateSet.from_texts({("en-US", "x"): "{{ brand }}{{ minutes_waited }}"})
    with pytest.raises(TemplateError, match="unknown variable 'minute_waited'"):
        templates.render("en-US", "x", brand="B", minute_waited=3)


def test_unknown_template_says_what_exists(shipped: TemplateSet) -> None:
    with pytest.raises(TemplateError, match="ru-RU/nope.txt.*whatsapp_link"):
        shipped.render("ru-RU", "nope", **SAMPLE_VALUES)
    with pytest.raises(TemplateError, match="known locales: en-US, ru-RU"):
        shipped.render("kk-KZ", "whatsapp_link", **SAMPLE_VALUES)


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "en-US/x.txt", "line one\n{{ brand }\n")
    with pytest.raises(TemplateError, match=rf"{path}: line 2"):
        TemplateSet.load(tmp_path)


def test_database_texts_cannot_reach_python_internals() -> None:
    evil = "{{ brand.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(TemplateError, match="database:en-US/x"):
        TemplateSet.from_texts({("en-US", "x"): evil})


def test_decomposed_accents_are_normalised_so_gsm_text_stays_gsm() -> None:
    templates = TemplateSet.from_texts({("fr-FR", "x"): "Cafe\u0301 {{ brand }}"})
    message = templates.render("fr-FR", "x", brand="B")
    assert message.body == "Café B"
    assert message.segments.encoding == "GSM-7"


def test_template_set_is_compiled_once_and_never_reads_files_again(tmp_path: Path) -> None:
    path = write(tmp_path, "en-US/x.txt", "{{ brand }}")
    templates = TemplateSet.load(tmp_path)
    path.unlink()
    assert templates.render("en-US", "x", brand="B").body == "B"
    assert ("en-US", "x") in templates and len(templates) == 1


def test_check_reports_messages_over_budget(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ru-RU/whatsapp_link.txt",
        "{{ brand }}: " + "очень длинный текст " * 5 + "{{ reference }} {{ link }}",
    )
    [report] = check_templates(tmp_path, max_segments=2)
    assert report.sample is not None and report.sample.segments.segments == 3
    assert not report.ok
    assert any("3 segments" in warning for warning in report.warnings)


def test_check_warns_when_one_quote_forces_ucs2(tmp_path: Path) -> None:
    write(
        tmp_path,
        "en-US/whatsapp_link.txt",
        "{{ brand }}: continue in WhatsApp, we’re there. Ref {{ reference }} {{ link }}",
    )
    [report] = check_templates(tmp_path)
    assert report.sample is not None and report.sample.segments.encoding == "UCS-2"
    assert any("’" in warning and "UCS-2" in warning for warning in report.warnings)


def test_check_warns_when_a_link_message_has_no_link(tmp_path: Path) -> None:
    write(tmp_path, "en-US/whatsapp_link.txt", "{{ brand }}: ref {{ reference }}")
    [report] = check_templates(tmp_path)
    assert report.warnings == ("does not use {{ link }}",)


def test_check_collects_errors_instead_of_stopping(tmp_path: Path) -> None:
    write(tmp_path, "en-US/a.txt", "{{ nope }}")
    write(tmp_path, "en-US/b.txt", "{{ brand }}")
    reports = check_templates(tmp_path)
    assert [(r.name, bool(r.errors)) for r in reports] == [("a", True), ("b", False)]


def test_check_uses_the_deployments_own_values(tmp_path: Path) -> None:
    write(tmp_path, "en-US/x.txt", "{{ brand }}")
    [report] = check_templates(tmp_path, sample_values={"brand": "Bank Центр"})
    assert report.sample is not None and report.sample.segments.encoding == "UCS-2"


def test_directory_layout_is_checked(tmp_path: Path) -> None:
    write(tmp_path, "Russian/x.txt", "{{ brand }}")
    with pytest.raises(TemplateError, match="locale 'Russian'"):
        TemplateSet.load(tmp_path)
    with pytest.raises(TemplateError, match="does not exist"):
        TemplateSet.load(tmp_path / "missing")


def test_files_other_than_txt_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# notes")
    write(tmp_path, "en-US/x.txt", "{{ brand }}")
    write(tmp_path, "en-US/x.txt.orig", "{{ nope }}")
    assert len(TemplateSet.load(tmp_path)) == 1


def test_channels_are_joined_as_one_choice_in_the_texts_own_language(tmp_path: Path) -> None:
    text = "{{ brand }}: {{ either(channels) }} {{ reference }} {{ link }}"
    write(tmp_path, "ru-RU/pick.txt", text)
    write(tmp_path, "en-US/pick.txt", text)
    write(tmp_path, "kk-KZ/pick.txt", text)
    templates = TemplateSet.load(tmp_path)
    values = {**SAMPLE_VALUES, "channels": ["WhatsApp", "Telegram"]}

    assert "WhatsApp или Telegram" in templates.render("ru-RU", "pick", **values).body
    assert "WhatsApp or Telegram" in templates.render("en-US", "pick", **values).body
    assert "WhatsApp не Telegram" in templates.render("kk-KZ", "pick", **values).body  # data, not code


def test_a_text_naming_channels_is_costed_with_its_longer_branch(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ru-RU/pick.txt",
        "{% if channels|length > 1 %}{{ either(channels) }}{% else %}"
        + "длинный текст для одного канала " * 4
        + "{% endif %} {{ reference }} {{ link }} {{ brand }}",
    )
    [report] = check_templates(tmp_path, max_segments=2)

    assert report.sample is not None and "длинный текст" in report.sample.body
    assert any("3 segments" in warning for warning in report.warnings)
