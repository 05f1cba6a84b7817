"""The reports API lets in only a live bearer token, checked before anything else is read; bad
parameters get a 400 naming the parameter. Tokens are shown once, kept as digests, and revoking one
stops it at its next request. The CLI refuses bad dates, zones and slices with exit code 2."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.cli import main
from gateway.clock import ManualClock
from gateway.reporting.export import mask
from gateway.store.models import ApiToken, AuditEntry

DEFLECTION = "/api/v1/reports/deflection?from=2026-11-01&to=2026-11-30"


def _audit_count(app: Any) -> int:
    with app.extensions["deflect"].database.session() as session:
        return int(session.scalar(select(func.count(AuditEntry.id))) or 0)


def _row(app: Any, token_id: int) -> ApiToken:
    with app.extensions["deflect"].database.session() as session:
        row = session.get(ApiToken, token_id)
        session.expunge(row)
        return row


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer dr_forged-token-that-was-never-made", "Basic dXNlcjpwYXNz", "dr_x"],
    ids=["absent", "empty", "no token", "forged", "basic", "no scheme"],
)
def test_a_request_without_a_live_token_gets_401_and_changes_nothing(
    app: Any, authorization: str | None
) -> None:
    token, _ = app.extensions["deflect"].tokens.add("bi", actor="test")
    before = _audit_count(app)
    headers = {"Authorization": authorization} if authorization is not None else {}
    # Even a request with bad parameters: the token is checked before they are read.
    for path in (DEFLECTION, "/api/v1/reports/funnel?from=nonsense", "/api/v1/reports/facts.csv"):
        response = app.test_client().get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in response.get_json()
        assert "Set-Cookie" not in response.headers
    assert _audit_count(app) == before
    assert _row(app, token.id).last_used_at is None


def test_a_token_works_until_revoked_and_notes_its_use_once_a_minute(app: Any, clock: ManualClock) -> None:
    tokens = app.extensions["deflect"].tokens
    token, secret = tokens.add("grafana", actor="admin@example.test")
    assert secret.startswith("dr_") and len(secret) > 40
    row = _row(app, token.id)
    assert row.token_sha256 == hashlib.sha256(secret.encode()).hexdigest() and secret not in row.prefix
    assert secret.startswith(row.prefix)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    assert client.get(DEFLECTION, headers=headers).status_code == 200
    first_use = _row(app, token.id).last_used_at
    assert first_use == clock.now()
    clock.advance(30)
    assert client.get(DEFLECTION, headers=headers).status_code == 200
    assert _row(app, token.id).last_used_at == first_use  # within the minute: not written again
    clock.advance(31)
    assert client.get(DEFLECTION, headers=headers).status_code == 200
    assert _row(app, token.id).last_used_at == clock.now()

    tokens.revoke(token.id, actor="admin@example.test")
    assert client.get(DEFLECTION, headers=headers).status_code == 401
    with app.extensions["deflect"].database.session() as session:
        found = select(AuditEntry.action).where(AuditEntry.action.startswith("api_token."))
        actions = list(session.scalars(found.order_by(AuditEntry.id)))
    assert actions == ["api_token.added", "api_token.revoked"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("to=2026-11-30", "from"),
        ("from=2026-11-01", "to"),
        ("from=2026-13-01&to=2026-11-30", "from"),
        ("from=2026-11-30&to=2026-11-01", "to"),
        ("from=2026-11-01&to=2026-11-30&tz=Mars/Olympus", "tz"),
        ("from=2026-11-01&to=2026-11-30&by=weather", "by"),
        ("from=2026-11-01&to=2026-11-30&version=two", "version"),
    ],
)
def test_bad_parameters_get_400_naming_the_parameter(app: Any, query: str, parameter: str) -> None:
    _, secret = app.extensions["deflect"].tokens.add("bi", actor="test")
    response = app.test_client().get(
        f"/api/v1/reports/funnel?{query}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter


def test_refusals_are_not_sliced(app: Any) -> None:
    _, secret = app.extensions["deflect"].tokens.add("bi", actor="test")
    response = app.test_client().get(
        "/api/v1/reports/refusals?from=2026-11-01&to=2026-11-30&by=day",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert (response.status_code, response.get_json()["parameter"]) == (400, "by")


def test_tokens_cli_prints_the_token_once_lists_and_revokes(app: Any, cli_env: None) -> None:
    runner = CliRunner()
    added = runner.invoke(main, ["tokens", "add", "power bi", "--by", "ops@example.test"])
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert secret.startswith("dr_")
    listed = runner.invoke(main, ["tokens", "list", "--json"])
    assert listed.exit_code == 0
    [token] = json.loads(listed.stdout)
    assert (token["name"], token["created_by"], token["revoked_at"]) == ("power bi", "ops@example.test", None)
    assert secret not in listed.stdout and secret[:8] == token["prefix"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get(DEFLECTION, headers=headers).status_code == 200
    revoked = runner.invoke(main, ["tokens", "revoke", str(token["id"])])
    assert revoked.exit_code == 0, revoked.output
    assert app.test_client().get(DEFLECTION, headers=headers).status_code == 401
    assert runner.invoke(main, ["tokens", "revoke", "9999"]).exit_code == 1


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["report", "funnel", "--from", "yesterday", "--to", "2026-11-30"], "--from"),
        (["report", "funnel", "--from", "2026-11-01", "--to", "2026-11-31"], "--to"),
        (["report", "deflection", "--from", "2026-11-01", "--to", "2026-11-30", "--tz", "Nowhere"], "--tz"),
        (["report", "deflection", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "colour"], "--by"),
        (["report", "refusals", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "day"], "--by"),
        (["report", "export", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "xlsx"], "--output"),
    ],
)
def test_report_cli_refuses_bad_usage_with_exit_2(cli_env: None, arguments: list[str], named: str) -> None:
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output


def test_an_empty_period_shows_dashes_not_zero_percent(cli_env: None) -> None:
    result = CliRunner().invoke(main, ["report", "deflection", "--from", "2026-11-01", "--to", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "—" in result.stdout and "0.0%" not in result.stdout
    refusals = CliRunner().invoke(main, ["report", "refusals", "--from", "2026-11-01", "--to", "2026-11-01"])
    assert refusals.exit_code == 0 and "no offer was refused" in refusals.stdout


def test_refresh_and_rebuild_fold_and_rebuild_asks_first(cli_env: None) -> None:
    refreshed = CliRunner().invoke(main, ["report", "refresh"])
    assert refreshed.exit_code == 0 and refreshed.stdout.startswith("folded ")
    asked = CliRunner().invoke(main, ["report", "rebuild"], input="n\n")
    assert asked.exit_code == 1 and "Aborted" in asked.output
    rebuilt = CliRunner().invoke(main, ["report", "rebuild", "--yes"])
    assert rebuilt.exit_code == 0 and rebuilt.stdout.startswith("rebuilt: ")


def test_a_caller_is_masked_to_the_last_four_digits() -> None:
    assert mask("+79161234567") == "…4567"
    assert mask(None) == "" and mask("") == ""
