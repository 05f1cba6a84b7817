"""Settings: a typo or a malformed value stops start-up with a message that names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import NAMES, SettingsError, env_example, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_give_a_working_development_setup(tmp_path: Path) -> None:
    settings = load_settings({"DEFLECT_DATA_DIR": str(tmp_path)}, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'deflect.sqlite3'}"
    assert settings.redis_url is None
    assert not settings.twilio_enabled
    assert len(settings.secret_key) == 64
    # The development secret is kept, so sessions survive a restart.
    assert load_settings({"DEFLECT_DATA_DIR": str(tmp_path)}, environ={}).secret_key == settings.secret_key


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TWILIO_AUTH_TOKN": "x"}, "unknown setting TWILIO_AUTH_TOKN (did you mean TWILIO_AUTH_TOKEN?)"),
        ({"DEFLECT_LOG_LEVEL": "loud"}, "DEFLECT_LOG_LEVEL must be one of debug, info, warning, error"),
        ({"TRUSTED_PROXY_COUNT": "two"}, "TRUSTED_PROXY_COUNT must be a whole number"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must be a URL"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must be a sqlite:/// or postgresql:// URL"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID must be an Account SID"),
        ({"TWILIO_SMS_FROM": "+7 000"}, "TWILIO_SMS_FROM"),
        ({"DEFLECT_ALLOWED_REGIONS": "RU,XX"}, "DEFLECT_ALLOWED_REGIONS has unknown region codes: XX"),
        ({"DEFLECT_ENV": "production"}, "SECRET_KEY is required in production"),
        (
            {
                "DEFLECT_ENV": "production",
                "SECRET_KEY": "s" * 40,
                "PUBLIC_BASE_URL": "https://x.test",
                "DEFLECT_SKIP_SIGNATURE_CHECK": "1",
            },
            "DEFLECT_SKIP_SIGNATURE_CHECK cannot be set in production",
        ),
        (
            {"TWILIO_ACCOUNT_SID": "AC" + "a" * 32, "TWILIO_AUTH_TOKEN": "b" * 32},
            "TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID is required",
        ),
        ({"TWILIO_API_BASE_URL_OVERRIDES": "conversations"}, "entries must look like host=URL"),
        ({"DEFLECT_MAX_BODY_KB": "100000"}, "DEFLECT_MAX_BODY_KB must be between"),
        ({"REDIS_SENTINELS": "s1:26379,s2"}, "REDIS_SENTINELS entries must look like host:port, got 's2'"),
        ({"REDIS_SENTINELS": "s1:263790"}, "REDIS_SENTINELS entries must look like host:port"),
        ({"REDIS_SENTINELS": "s1:26379"}, "REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS"),
        (
            {"REDIS_SENTINELS": "s1:26379", "REDIS_SENTINEL_MASTER": "my master"},
            "REDIS_SENTINEL_MASTER must be a Sentinel master name",
        ),
        (
            {"REDIS_SENTINELS": "s1:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "redis://r:6379/0"},
            "set REDIS_URL or REDIS_SENTINELS, not both",
        ),
        ({"REDIS_SENTINEL_MASTER": "deflect"}, "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not"),
        ({"REDIS_PASSWORD": "secret"}, "REDIS_PASSWORD is set but REDIS_SENTINELS is not"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings({"DEFLECT_DATA_DIR": str(tmp_path)}, environ=environ)
    assert message in str(excinfo.value)


def test_postgres_url_uses_the_shipped_driver(tmp_path: Path) -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1/test", "DEFLECT_DATA_DIR": str(tmp_path)},
        environ={},
    )
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1/test"


def test_sentinels_are_host_port_pairs(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "REDIS_SENTINELS": " sentinel-1:26379, 10.0.0.2:26380,[::1]:26381,",
            "REDIS_SENTINEL_MASTER": "deflect",
            "REDIS_PASSWORD": "primary-secret",
            "DEFLECT_DATA_DIR": str(tmp_path),
        },
        environ={},
    )
    assert settings.redis_sentinels == (("sentinel-1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert settings.redis_sentinel_master == "deflect"
    assert settings.redis_url is None
    assert "primary-secret" not in repr(settings)


def test_a_bad_sentinel_setting_stops_the_app_naming_it(tmp_path: Path) -> None:
    from gateway.app import create_app

    with pytest.raises(SettingsError, match="REDIS_SENTINELS entries must look like host:port"):
        create_app({"DEFLECT_DATA_DIR": str(tmp_path)}, environ={"REDIS_SENTINELS": "sentinel-1"})


def test_host_overrides_are_parsed(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TWILIO_API_BASE_URL_OVERRIDES": "conversations=http://127.0.0.1:4011/,api=http://127.0.0.1:4010",
            "DEFLECT_DATA_DIR": str(tmp_path),
        },
        environ={},
    )
    assert settings.twilio_api_base_url_overrides == {
        "conversations": "http://127.0.0.1:4011",
        "api": "http://127.0.0.1:4010",
    }


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    assert text == env_example()
    for name in NAMES:
        assert f"#{name}=" in text


SKIP = "DEFLECT_SKIP_SIGNATURE_CHECK"
LOOPBACK_ONLY = "allowed only with DEFLECT_ENV=development and a loopback PUBLIC_BASE_URL"


@pytest.mark.parametrize(
    "environ",
    [
        {SKIP: "1"},  # DEFLECT_ENV unset means development, but where Twilio reaches us is unknown
        {SKIP: "1", "DEFLECT_ENV": "test", "PUBLIC_BASE_URL": "http://127.0.0.1:5000"},
        {SKIP: "1", "DEFLECT_ENV": "development", "PUBLIC_BASE_URL": "https://voice.example.test"},
        {SKIP: "1", "DEFLECT_ENV": "development", "PUBLIC_BASE_URL": "http://10.0.0.5:5000"},
        {SKIP: "1", "DEFLECT_ENV": "development", "PUBLIC_BASE_URL": "http://localhost.example.test"},
    ],
)
def test_unsigned_webhooks_are_refused_anywhere_but_a_developers_own_machine(
    environ: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(SettingsError, match=LOOPBACK_ONLY):
        load_settings({"DEFLECT_DATA_DIR": str(tmp_path)}, environ=environ)


@pytest.mark.parametrize("base", ["http://127.0.0.1:5000", "http://localhost:5000", "http://[::1]:5000"])
def test_unsigned_webhooks_may_be_accepted_in_development_on_loopback(base: str, tmp_path: Path) -> None:
    settings = load_settings(
        {"DEFLECT_DATA_DIR": str(tmp_path)},
        environ={SKIP: "true", "DEFLECT_ENV": "development", "PUBLIC_BASE_URL": base},
    )
    assert settings.deflect_skip_signature_check is True


PRODUCTION = {"DEFLECT_ENV": "production", "SECRET_KEY": "s" * 40}


def test_production_refuses_a_plain_http_public_url(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL must be an https:// URL in production"):
        load_settings(
            {"DEFLECT_DATA_DIR": str(tmp_path)},
            environ={**PRODUCTION, "PUBLIC_BASE_URL": "http://voice.example.test"},
        )


def test_production_starts_with_an_https_public_url(tmp_path: Path) -> None:
    settings = load_settings(
        {"DEFLECT_DATA_DIR": str(tmp_path)},
        environ={**PRODUCTION, "PUBLIC_BASE_URL": "https://voice.example.test"},
    )
    assert settings.production and settings.public_base_url == "https://voice.example.test"


def test_list_settings_are_read_once_into_typed_values(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "DEFLECT_DATA_DIR": str(tmp_path),
            "DEFLECT_NUMBER_TYPES": "mobile, fixed_line_or_mobile,",
            "DEFLECT_HANDOFF_ADAPTERS": "card, webhook",
            "DEFLECT_HANDOFF_ROUTES": "bank-cards=conversations, ru-bank-support=webhook+card",
            "DEFLECT_HANDOFF_WEBHOOK_URL": "https://desk.example.test/hook",
            "DEFLECT_HANDOFF_WEBHOOK_SECRET": "s3cret",
        },
        environ={},
    )
    assert settings.deflect_number_types == frozenset({"mobile", "fixed_line_or_mobile"})
    assert settings.deflect_handoff_adapters == ("card", "webhook")
    assert settings.deflect_handoff_routes == {
        "bank-cards": ("conversations",),
        "ru-bank-support": ("webhook", "card"),
    }
    assert settings.handoff_adapters_named == {"card", "webhook", "conversations"}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DEFLECT_HANDOFF_ROUTES": "bank-cards=desk"}, "DEFLECT_HANDOFF_ROUTES has unknown adapters: desk"),
        ({"DEFLECT_HANDOFF_ROUTES": "bank-cards"}, "DEFLECT_HANDOFF_ROUTES entries must look like queue="),
        ({"DEFLECT_HANDOFF_ROUTES": "bank-cards="}, "DEFLECT_HANDOFF_ROUTES entries must look like queue="),
        ({"DEFLECT_HANDOFF_ADAPTERS": "card,desk"}, "DEFLECT_HANDOFF_ADAPTERS has unknown adapters: desk"),
        ({"DEFLECT_HANDOFF_ROUTES": "bank-cards=webhook"}, "DEFLECT_HANDOFF_WEBHOOK_URL and"),
        ({"TWILIO_API_BASE_URL_OVERRIDES": "api=ftp://x"}, "TWILIO_API_BASE_URL_OVERRIDES must be a URL"),
    ],
)
def test_bad_hand_off_and_host_lists_name_the_variable(
    environ: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings({"DEFLECT_DATA_DIR": str(tmp_path)}, environ=environ)
    assert message in str(excinfo.value)


def test_a_queue_named_after_the_webhook_does_not_need_the_webhook_adapter(tmp_path: Path) -> None:
    # The rule once looked for the word "webhook" anywhere in the routes, queue names included.
    settings = load_settings(
        {"DEFLECT_DATA_DIR": str(tmp_path), "DEFLECT_HANDOFF_ROUTES": "webhook-support=card"}, environ={}
    )
    assert settings.handoff_adapters_named == {"card"}


def test_secrets_stay_out_of_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings(
        {"DEFLECT_DATA_DIR": str(tmp_path), "TWILIO_AUTH_TOKEN": "f" * 32, "SECRET_KEY": "k" * 40}, environ={}
    )
    assert "f" * 32 not in repr(settings) and "k" * 40 not in repr(settings)
    assert "deflect_data_dir" in repr(settings)


def test_the_coarse_sms_windows_follow_the_daily_budget_unless_set(tmp_path: Path) -> None:
    """An admin who raises the budget must not find a country or a destination code still capped at
    the old budget's share; a window set by hand stays as set (0: off)."""
    base = {"DEFLECT_DATA_DIR": str(tmp_path)}
    default = load_settings(base, environ={})
    raised = load_settings({**base, "DEFLECT_SMS_DAILY_BUDGET": "10000"}, environ={})
    pinned = load_settings(
        {**base, "DEFLECT_SMS_DAILY_BUDGET": "10000", "DEFLECT_SMS_PER_COUNTRY_DAY": "0"}, environ={}
    )

    def windows(settings: object) -> tuple[int, ...]:
        names = ("ndc_hour", "ndc_day", "country_hour", "country_day")
        return tuple(getattr(settings, f"deflect_sms_per_{name}") for name in names)

    assert windows(default) == (60, 400, 300, 1500)
    assert windows(raised) == (300, 2000, 1500, 7500)
    assert pinned.deflect_sms_per_country_day == 0 and pinned.deflect_sms_per_ndc_day == 2000
