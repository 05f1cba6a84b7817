"""`deflect users`: accounts of the admin console, from the command line."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from gateway.cli import main
from gateway.users.roles import ROLES


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_add_reads_the_password_from_stdin_and_list_shows_the_user(cli_env: None) -> None:
    added = run(
        "users", "add", "Boss@Example.com", "--role", "admin", "--password-stdin", stdin="a long password!\n"
    )
    assert added.exit_code == 0, added.output
    assert "added boss@example.com as admin" in added.output
    listed = run("users", "list", "--json")
    assert [(u["email"], u["role"], u["active"]) for u in json.loads(listed.output)] == [
        ("boss@example.com", "admin", True)
    ]


def test_bad_input_is_refused_with_a_reason_and_nothing_is_added(cli_env: None) -> None:
    short = run("users", "add", "a@example.com", "--role", "admin", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad = run(
        "users", "add", "not-an-email", "--role", "admin", "--password-stdin", stdin="a long password!\n"
    )
    assert bad.exit_code == 1 and "is not an e-mail address" in bad.output
    role = run(
        "users", "add", "a@example.com", "--role", "boss", "--password-stdin", stdin="a long password!\n"
    )
    assert role.exit_code == 2
    empty = run("users", "add", "a@example.com", "--role", "admin", "--password-stdin", stdin="")
    assert empty.exit_code == 2 and "nothing was read" in empty.output
    assert json.loads(run("users", "list", "--json").output) == []


def test_a_second_account_for_one_address_is_refused(cli_env: None) -> None:
    run("users", "add", "a@example.com", "--role", "viewer", "--password-stdin", stdin="a long password!\n")
    again = run(
        "users", "add", "A@example.com", "--role", "admin", "--password-stdin", stdin="a long password!\n"
    )
    assert again.exit_code == 1 and "already has an account" in again.output


def test_role_changes_and_deactivation_are_kept_and_audited(cli_env: None, make_app: Any) -> None:
    run("users", "add", "a@example.com", "--role", "viewer", "--password-stdin", stdin="a long password!\n")
    assert run("users", "set-role", "a@example.com", "publisher", "--by", "lead").exit_code == 0
    assert run("users", "deactivate", "a@example.com").exit_code == 0
    (user,) = json.loads(run("users", "list", "--json").output)
    assert (user["role"], user["active"]) == ("publisher", False)
    unknown = run("users", "set-role", "nobody@example.com", "admin")
    assert unknown.exit_code == 1 and "no account" in unknown.output
    audit = make_app().extensions["deflect"].content.store.audit(limit=10)
    changes = [(e.action, e.actor, e.before, e.after) for e in audit if e.subject == "user:a@example.com"]
    assert ("user.role_changed", "lead", "viewer", "publisher") in changes
    assert any(action == "user.deactivated" for action, *_ in changes)
    assert set(ROLES) == {"viewer", "agent", "editor", "publisher", "admin"}
