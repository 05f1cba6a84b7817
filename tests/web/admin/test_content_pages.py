"""The console's flows and texts pages: list, item, draft editor, diff, publish, rollback, four eyes,
the diagram and "where used", on the same content service as `deflect content`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.content.actors import identity
from tests.support.calls import Call
from tests.support.console import Console, signed_in

ROOT = Path(__file__).resolve().parents[3]
BANK_FLOW = ROOT / "ivr_flows" / "ru_bank_support.yaml"
FLOW = "/admin/content/flow/ru-bank-support"
GREETING = "Вы позвонили в службу поддержки банка"
EDITED = "Вы позвонили в Пример Банк"
FIELD = f"file:{BANK_FLOW.name}"


def bank_flow() -> str:
    return BANK_FLOW.read_text(encoding="utf-8")


def edited_flow() -> str:
    return bank_flow().replace(GREETING, EDITED)


def broken_flow() -> str:
    """The edited flow whose main menu sends key 1 to a step that does not exist."""
    text = edited_flow()
    broken = re.sub(r"(\n  main_menu:\n(?:.*\n)*?\s+1: \{next: )(\w+)", r"\1no_such_step", text, count=1)
    assert broken != text
    return broken


def content(app: Any) -> Any:
    return app.extensions["deflect"].content


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def follow(console: Console, response: Any) -> str:
    assert response.status_code == 302, page(response)[:500]
    return page(console.get(response.headers["Location"]))


def save(console: Console, text: str) -> Any:
    return console.post(f"{FLOW}/edit", {FIELD: text})


def publish(console: Console, comment: str = "shorter greeting", **more: str) -> Any:
    return console.post(f"{FLOW}/publish", {"comment": comment, **more})


def live(app: Any) -> int | None:
    return content(app).status("flow", "ru-bank-support").live


def greeting_of_a_new_call(app: Any) -> str:
    app.extensions["deflect"].registry.refresh()
    return Call(app.test_client()).incoming().said()


def test_the_lists_show_each_items_live_version_draft_state_and_last_change(app: Any) -> None:
    editor = signed_in(app, "editor")
    save(editor, broken_flow())

    flows = page(signed_in(app, "viewer", "v@example.com").get("/admin/content/"))

    row = re.search(r'<tr id="item-flow-ru-bank-support">(.*?)</tr>', flows, re.S)
    assert row is not None
    assert "v1" in row.group(1) and "has problems" in row.group(1)
    assert "draft saved · editor@example.com (console)" in row.group(1)
    assert 'id="item-flow-en-support"' in flows and "imported from files · system" in flows
    assert "item-sms-" not in flows
    texts = page(editor.get("/admin/texts/"))
    assert 'id="item-sms-ru-RU"' in texts and 'id="item-voice-ru-RU"' in texts
    assert "item-flow-" not in texts


def test_a_draft_with_an_error_shows_file_line_and_step_and_keeps_the_text(app: Any) -> None:
    editor = signed_in(app, "editor")

    shown = follow(editor, save(editor, broken_flow()))

    problems = re.search(r'<aside[^>]*id="problems".*?</aside>', shown, re.S)
    assert problems is not None
    assert re.search(
        r"ru_bank_support\.yaml:\d+: step &#39;main_menu&#39;: .*no_such_step", problems.group(0)
    )
    assert re.search(r'<a href="#file-1" data-line="\d+">', problems.group(0))  # leads to its line
    assert "1 problem(s)" in shown
    assert "no_such_step" in textarea(shown, FIELD)  # what the admin typed is all there
    assert EDITED in textarea(shown, FIELD)
    assert content(app).status("flow", "ru-bank-support").draft_state == "problems"

    fixed = follow(editor, save(editor, edited_flow()))

    assert "No problems: the draft can be published" in fixed
    assert content(app).files("flow", "ru-bank-support", "draft") == {BANK_FLOW.name: edited_flow()}
    assert live(app) == 1
    assert [e.action for e in content(app).changes("flow", "ru-bank-support")][:2] == [
        "draft.saved",
        "draft.saved",
    ]


def textarea(html: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>\n(.*?)</textarea>', html, re.S)
    assert found is not None, f"no textarea {name}"
    return found.group(1)


def test_the_editor_starts_from_the_live_version_when_there_is_no_draft(app: Any) -> None:
    shown = page(signed_in(app, "editor").get(f"{FLOW}/edit"))

    assert "Editing a copy of v1" in shown
    assert GREETING in textarea(shown, FIELD)
    assert "{% block" not in shown


def test_the_editor_saves_only_the_items_own_files(app: Any) -> None:
    editor = signed_in(app, "editor")

    editor.post(f"{FLOW}/edit", {FIELD: edited_flow(), "file:../../outside.yaml": edited_flow()})

    assert content(app).files("flow", "ru-bank-support", "draft") == {BANK_FLOW.name: edited_flow()}


def test_a_browsers_crlf_line_ends_change_nothing(app: Any) -> None:
    publisher = signed_in(app, "publisher")
    save(publisher, bank_flow().replace("\n", "\r\n"))

    shown = follow(publisher, publish(publisher, "nothing changed"))

    assert "no new version, v1 stays live" in shown
    assert content(app).history("flow", "ru-bank-support")[0].version == 1


def test_the_diff_colours_what_the_draft_changes(app: Any) -> None:
    editor = signed_in(app, "editor")
    save(editor, edited_flow())

    shown = page(editor.get(f"{FLOW}/diff?old=live&new=draft"))

    assert f'<span class="del">-    text: Здравствуйте! {GREETING}.</span>' in shown
    assert f'<span class="add">+    text: Здравствуйте! {EDITED}.</span>' in shown
    assert '<span class="hunk">@@' in shown and "style=" not in shown
    same = page(editor.get(f"{FLOW}/diff?old=1&new=live"))
    assert 'id="diff-same"' in same
    missing = editor.get(f"{FLOW}/diff?old=7&new=live")
    assert missing.status_code == 404 and "has no version 7" in page(missing)


def test_publishing_needs_the_publish_permission(app: Any) -> None:
    editor = signed_in(app, "editor")
    save(editor, edited_flow())

    assert publish(editor).status_code == 403
    assert editor.post(f"{FLOW}/rollback", {"version": "1"}).status_code == 403
    assert 'id="publish-form"' not in page(editor.get(FLOW))
    assert live(app) == 1 and content(app).status("flow", "ru-bank-support").draft is not None


def test_a_publish_without_its_csrf_token_gets_400_and_changes_nothing(app: Any) -> None:
    publisher = signed_in(app, "publisher")
    save(publisher, edited_flow())

    refused = publisher.post(f"{FLOW}/publish", {"comment": "x"}, csrf=False)

    assert refused.status_code == 400
    assert live(app) == 1 and len(content(app).history("flow", "ru-bank-support")) == 1
    assert publisher.post(f"{FLOW}/edit", {FIELD: bank_flow()}, csrf=False).status_code == 400
    assert content(app).files("flow", "ru-bank-support", "draft")[BANK_FLOW.name] == edited_flow()


def test_a_publish_needs_a_comment(app: Any) -> None:
    publisher = signed_in(app, "publisher")
    save(publisher, edited_flow())

    shown = follow(publisher, publish(publisher, "   "))

    assert "Say why in the comment" in shown
    assert live(app) == 1


def test_after_a_console_publish_a_new_call_hears_the_new_greeting(app: Any) -> None:
    assert GREETING in greeting_of_a_new_call(app)
    publisher = signed_in(app, "publisher")
    save(publisher, edited_flow())

    shown = follow(publisher, publish(publisher))

    assert "Version 2 is live." in shown
    assert EDITED in greeting_of_a_new_call(app)
    published = content(app).changes("flow", "ru-bank-support")[0]
    assert (published.action, published.actor, published.after) == (
        "content.published",
        "publisher@example.com (console)",
        "v2",
    )
    assert published.detail == {"comment": "shorter greeting"}


def test_rollback_to_v1_twice_keeps_v1_live(app: Any) -> None:
    publisher = signed_in(app, "publisher")
    save(publisher, edited_flow())
    publish(publisher)
    item = page(publisher.get(FLOW))
    assert 'id="rollback-1"' in item and "Make v1 live" in item
    assert 'data-confirm="Make version 1 live for new calls?"' in item

    first = follow(publisher, publisher.post(f"{FLOW}/rollback", {"version": "1"}))
    second = follow(publisher, publisher.post(f"{FLOW}/rollback", {"version": "1"}))

    assert "Version 1 is live again." in first
    assert "Version 1 is live already." in second
    assert live(app) == 1
    assert GREETING in greeting_of_a_new_call(app)
    actions = [e.action for e in content(app).changes("flow", "ru-bank-support")]
    assert actions[:2] == ["content.rolled_back", "content.published"]  # the second changed nothing


def test_four_eyes_in_the_console_the_author_may_not_publish_someone_else_may(make_app: Any) -> None:
    app = make_app(DEFLECT_ADMIN_FOUR_EYES="true")
    anna = signed_in(app, "publisher", "anna@example.com")
    save(anna, edited_flow())

    refused = follow(anna, publish(anna))

    assert "Four eyes: this draft was saved by anna@example.com (console)" in refused
    assert live(app) == 1
    assert content(app).changes("flow", "ru-bank-support")[0].action == "content.publish_refused"
    boris = signed_in(app, "publisher", "boris@example.com")
    assert "Version 2 is live." in follow(boris, publish(boris))


def test_four_eyes_from_the_cli_the_console_author_is_the_same_person(
    make_app: Any, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFLECT_ADMIN_FOUR_EYES", "true")
    app = make_app(DEFLECT_ADMIN_FOUR_EYES="true")
    save(signed_in(app, "editor", "anna@example.com"), edited_flow())

    def deflect_publish(by: str) -> Any:
        return CliRunner().invoke(
            main, ["content", "publish", "flow", "ru-bank-support", "-m", "x", "--by", by]
        )

    refused = deflect_publish("Anna@Example.com")
    assert refused.exit_code == 1
    assert "four eyes" in refused.output and "anna@example.com (console)" in refused.output
    assert deflect_publish("cli:anna@example.com").exit_code == 1
    assert live(app) == 1
    published = deflect_publish("boris@example.com")
    assert published.exit_code == 0, published.output
    assert live(app) == 2


def test_four_eyes_is_off_by_default(app: Any) -> None:
    publisher = signed_in(app, "publisher")
    save(publisher, edited_flow())

    assert "Version 2 is live." in follow(publisher, publish(publisher))


def test_the_console_and_the_cli_name_one_person_the_same() -> None:
    assert identity("Anna@Example.com (console)") == identity("cli:anna@example.com") == "anna@example.com"
    assert identity("anna@example.com") == identity("anna@example.com (console)")
    assert identity("cli:anna") != identity("boris@example.com (console)")


def test_the_console_actor_is_what_four_eyes_reads(app: Any) -> None:
    from gateway.web.admin import base

    console = signed_in(app, "editor", "anna@example.com")
    with console.client.application.test_request_context("/admin/content/"):  # the console has sessions
        from flask_login import login_user

        login_user(base.SignedIn(app.extensions["deflect"].users.find("anna@example.com")))
        assert identity(base.actor()) == "anna@example.com"


def test_a_viewer_can_read_but_not_edit(app: Any) -> None:
    signed_in(app, "editor").post(f"{FLOW}/edit", {FIELD: edited_flow()})
    viewer = signed_in(app, "viewer", "v@example.com")

    for path in (FLOW, f"{FLOW}/diff", f"{FLOW.replace('/flow/', '/flow/')}/diagram", "/admin/texts/"):
        assert viewer.get(path).status_code == 200, path
    item = page(viewer.get(FLOW))
    assert 'id="tab-edit"' not in item and 'id="publish-form"' not in item and "rollback-" not in item
    assert viewer.get(f"{FLOW}/edit").status_code == 403
    assert viewer.post(f"{FLOW}/edit", {FIELD: bank_flow()}).status_code == 403
    assert viewer.post(f"{FLOW}/discard").status_code == 403
    assert content(app).files("flow", "ru-bank-support", "draft")[BANK_FLOW.name] == edited_flow()


def test_a_draft_is_discarded_and_the_live_version_stays(app: Any) -> None:
    editor = signed_in(app, "editor")
    save(editor, edited_flow())

    shown = follow(editor, editor.post(f"{FLOW}/discard"))

    assert "Draft discarded." in shown
    assert content(app).status("flow", "ru-bank-support").draft is None and live(app) == 1
    assert "There is no draft." in follow(editor, editor.post(f"{FLOW}/discard"))


def test_sms_texts_are_edited_per_locale_with_a_segment_counter_hook(app: Any) -> None:
    editor = signed_in(app, "editor")
    shown = page(editor.get("/admin/content/sms/ru-RU/edit"))

    areas = re.findall(r"<textarea[^>]*>", shown)
    assert len(areas) == 3
    assert all('data-segments="sms"' in area for area in areas)
    assert 'name="file:ru-RU/whatsapp_link.txt"' in shown
    voice = page(editor.get("/admin/content/voice/ru-RU/edit"))
    assert 'name="file:ru-RU.yaml"' in voice and "data-segments" not in voice

    files = content(app).files("sms", "ru-RU")
    files["ru-RU/chat_ack.txt"] = "{{ reference"
    saved = follow(
        editor, editor.post("/admin/content/sms/ru-RU/edit", {f"file:{k}": v for k, v in files.items()})
    )
    problems = re.search(r'id="problems".*?</aside>', saved, re.S)
    assert problems is not None and "ru-RU/chat_ack.txt" in problems.group(0)
    assert '<a href="#file-2"><code>ru-RU/chat_ack.txt' in problems.group(0)  # its file, no line
    assert "{{ reference" in textarea(saved, "file:ru-RU/chat_ack.txt")


def test_a_flow_diagram_and_where_it_is_used(app: Any) -> None:
    viewer = signed_in(app, "viewer")

    drawn = page(viewer.get(f"{FLOW}/diagram"))

    assert "<svg" in drawn and 'id="step-main_menu"' in drawn and 'id="step-greeting"' in drawn
    assert 'class="step kind-say entry"' in drawn
    assert "<td><code>check_hours</code></td><td>open=false</td><td><code>closed_menu</code></td>" in drawn
    assert "style=" not in drawn
    item = page(viewer.get(FLOW))
    used = re.search(r'id="where-used".*?</section>', item, re.S)
    assert used is not None
    assert "+74952223344" in used.group(0)
    assert "bank-cards" in used.group(0)
    assert 'href="/admin/content/sms/ru-RU"' in used.group(0) and "ru-RU/channel_choice" in used.group(0)
    assert 'href="/admin/content/voice/ru-RU"' in used.group(0) and "consent_keyed" in used.group(0)


def test_the_diagram_of_a_draft_with_problems_says_why_there_is_none(app: Any) -> None:
    editor = signed_in(app, "editor")
    save(editor, broken_flow())

    shown = page(editor.get(f"{FLOW}/diagram?version=draft"))

    assert 'id="diagram-error"' in shown and "<svg" not in shown
    assert "<svg" in page(editor.get(f"{FLOW}/diagram?version=1"))


def test_the_diagram_marks_an_offer_experiment_and_lists_its_variants(app: Any) -> None:
    text = (ROOT / "tests" / "flows" / "offer_experiment.yaml").read_text(encoding="utf-8")
    app.extensions["deflect"].content.save_draft("flow", {"offer_experiment.yaml": text}, actor="anna")
    viewer = signed_in(app, "viewer")

    drawn = page(viewer.get("/admin/content/flow/offer-experiment/diagram?version=draft"))

    queue = re.search(r'id="step-queue".*?</g>', drawn, re.S)
    assert queue is not None
    assert "offer experiment: early 50 %, late 50 %" in queue.group(0)
    assert "offer A/B" in queue.group(0)


def test_unknown_items_and_kinds_are_404(app: Any) -> None:
    viewer = signed_in(app, "viewer")

    assert viewer.get("/admin/content/flow/no-such-flow").status_code == 404
    assert viewer.get("/admin/content/poem/ru-RU").status_code == 404
    assert viewer.get("/admin/content/flow/no-such-flow/diagram").status_code == 404
    assert viewer.get(f"{FLOW}/diff?old=yesterday").status_code == 404


def test_the_pages_render_in_russian(app: Any) -> None:
    publisher = signed_in(app, "publisher")
    save(publisher, broken_flow())
    publisher.client.set_cookie("deflect_admin_lang", "ru")

    for path, words in (
        ("/admin/content/", "Сценарии IVR"),
        ("/admin/texts/", "Тексты SMS и голосовые тексты"),
        (FLOW, "Где используется"),
        (f"{FLOW}/edit", "Сохранить черновик"),
        (f"{FLOW}/diff", "Сравнить"),
        (f"{FLOW}/diagram?version=1", "Переходы"),
    ):
        shown = publisher.get(path)
        assert shown.status_code == 200, path
        assert words in page(shown), path
        assert 'lang="ru"' in page(shown)
