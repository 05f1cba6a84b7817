"""Every setting of the gateway, read once from the environment (or a dict in tests) and validated.

`.env.example` lists the same names with a comment each; `tests/test_settings.py` keeps the two in step.
A missing or malformed value raises `SettingsError` naming the variable, so the process fails at start-up
instead of on the first call.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Variables with these prefixes are ours: an unknown one is a typo, and a typo in a security setting
# must not pass silently.
OWN_PREFIXES = ("DEFLECT_", "TWILIO_")

# Flask's own keys a caller of create_app() may pass through (tests turn CSRF off for API tests).
FLASK_KEYS = frozenset({"TESTING", "DEBUG", "WTF_CSRF_ENABLED", "SERVER_NAME"})

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting is missing, unknown or malformed; the message names it."""


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _url(schemes: tuple[str, ...]) -> Callable[[str, str], str]:
    def coerce(name: str, raw: str) -> str:
        value = raw.strip()
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise SettingsError(f"{name} must be a URL starting with {' or '.join(schemes)}://, got {raw!r}")
        return value.rstrip("/") if parts.scheme.startswith("http") else value

    return coerce


def _database_url(name: str, raw: str) -> str:
    value = raw.strip()
    scheme = value.split(":", 1)[0]
    if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
        raise SettingsError(f"{name} must be a sqlite:/// or postgresql:// URL, got scheme {scheme!r}")
    if scheme in ("postgresql", "postgres"):
        # psycopg 3 is the driver we ship; SQLAlchemy's bare scheme would look for psycopg2.
        value = "postgresql+psycopg" + value[len(scheme) :]
    return value


def _int(minimum: int, maximum: int) -> Callable[[str, str], int]:
    def coerce(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}")
        return value

    return coerce


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _choice(*options: str) -> Callable[[str, str], str]:
    def coerce(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise SettingsError(f"{name} must be one of {', '.join(options)}, got {raw!r}")
        return value

    return coerce


def _pattern(regex: str, what: str) -> Callable[[str, str], str]:
    compiled = re.compile(regex)

    def coerce(name: str, raw: str) -> str:
        value = raw.strip()
        if not compiled.fullmatch(value):
            raise SettingsError(f"{name} must be {what}, got {raw!r}")
        return value

    return coerce


def _e164(name: str, raw: str) -> str:
    import phonenumbers

    value = raw.strip()
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise SettingsError(f"{name} must be a phone number in E.164 form (+...), got {raw!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise SettingsError(f"{name} is not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _regions(name: str, raw: str) -> tuple[str, ...]:
    import phonenumbers

    regions = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise SettingsError(f"{name} has unknown region codes: {', '.join(unknown)}")
    return regions


def _path(name: str, raw: str) -> Path:
    return Path(raw.strip()).expanduser()


@dataclass(frozen=True)
class Spec:
    """How one variable is read: its coercion, default and one line of documentation."""

    name: str
    coerce: Callable[[str, str], Any]
    default: str | None
    doc: str
    secret: bool = False


SPECS: tuple[Spec, ...] = (
    Spec(
        "DEFLECT_ENV",
        _choice("development", "production", "test"),
        "development",
        "development (readable logs, embedded defaults) or production (JSON logs, strict checks)",
    ),
    Spec(
        "DATABASE_URL",
        _database_url,
        None,
        "SQLAlchemy URL; default a SQLite file under DEFLECT_DATA_DIR; postgresql://user@host/db",
    ),
    Spec(
        "REDIS_URL",
        _url(("redis", "rediss", "unix")),
        None,
        "Redis for call state, rate limits and the job queue; unset: the embedded server `deflect serve` "
        "starts (other commands use it while it runs)",
    ),
    Spec(
        "PUBLIC_BASE_URL",
        _url(("http", "https")),
        None,
        "the URL Twilio reaches us at (https://voice.example.bank); used for signatures and links",
    ),
    Spec(
        "DEFLECT_MAX_BODY_KB",
        _int(16, 4096),
        "128",
        "largest request body accepted, in KiB (413 past it); a webhook is a few KiB",
    ),
    Spec(
        "TRUSTED_PROXY_COUNT",
        _int(0, 5),
        "0",
        "reverse proxies in front of us whose X-Forwarded-* headers are trusted",
    ),
    Spec(
        "SECRET_KEY",
        _text,
        None,
        "signs sessions, CSRF tokens and context-card links; required in production",
        secret=True,
    ),
    Spec("DEFLECT_DATA_DIR", _path, "var", "where the SQLite file and the embedded Redis (redis.json) live"),
    Spec("DEFLECT_FLOWS_DIR", _path, str(PROJECT_ROOT / "ivr_flows"), "the IVR flow files"),
    Spec("DEFLECT_TEMPLATES_DIR", _path, str(PROJECT_ROOT / "sms_templates"), "the SMS texts"),
    Spec(
        "DEFLECT_LOG_FORMAT",
        _choice("auto", "json", "text"),
        "auto",
        "auto: JSON in production, readable text in development",
    ),
    Spec("DEFLECT_LOG_LEVEL", _choice("debug", "info", "warning", "error"), "info", "log level"),
    Spec(
        "DEFLECT_SKIP_SIGNATURE_CHECK",
        _bool,
        "false",
        "DEVELOPMENT ONLY (with a loopback PUBLIC_BASE_URL): accept unsigned Twilio webhooks",
    ),
    Spec(
        "DEFLECT_HOLD_MUSIC_URL",
        _url(("http", "https")),
        "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3",
        "hold audio played whenever anything internal fails",
    ),
    Spec("DEFLECT_FALLBACK_QUEUE", _text, "support", "queue a caller is put in when the flow cannot run"),
    Spec(
        "DEFLECT_ALLOWED_REGIONS",
        _regions,
        "",
        "regions that may ever be texted (a cap over every flow's home_regions); empty: no cap",
    ),
    Spec("DEFLECT_BRAND", _text, "Support", "the company name used in SMS and chat texts"),
    Spec(
        "DEFLECT_WHATSAPP_NUMBER",
        _e164,
        None,
        "the business WhatsApp number callers continue with (wa.me link); required to offer WhatsApp",
    ),
    Spec(
        "DEFLECT_TELEGRAM_BOT",
        _pattern(r"[A-Za-z][A-Za-z0-9_]{4,31}", "a Telegram bot username"),
        None,
        "Telegram bot username for t.me links (optional channel)",
    ),
    Spec(
        "DEFLECT_VIBER_URI",
        _pattern(r"[A-Za-z0-9_.-]{1,64}", "a Viber chat URI"),
        None,
        "Viber bot chat URI for viber://pa links (optional channel)",
    ),
    Spec(
        "DEFLECT_LINK_MODE",
        _choice("short", "direct"),
        "short",
        "short: our own tracked /l/<token> link; direct: the wa.me link itself in the SMS",
    ),
    Spec("DEFLECT_SESSION_HOURS", _int(1, 168), "24", "how long a chat session (and its link) lives"),
    Spec("DEFLECT_RETEXT_HOURS", _int(0, 720), "24", "no second SMS to one number within these hours"),
    Spec(
        "DEFLECT_NUMBER_TYPES",
        _text,
        "mobile,fixed_line_or_mobile",
        "number types that may be texted (fixed_line_or_mobile: where the plan cannot tell)",
    ),
    Spec(
        "DEFLECT_SMS_PER_PREFIX_HOUR",
        _int(1, 100000),
        "20",
        "SMS per hour to one number prefix (E.164 without the last 4 digits): SMS pumping guard",
    ),
    Spec(
        "DEFLECT_SMS_PER_NDC_HOUR",
        _int(0, 100000),
        "60",
        "SMS per hour to one national destination code (an area or mobile code, up to ~10 M numbers): "
        "a fifth of a 300-an-hour busiest legitimate hour going to one code (raise it, and "
        "DEFLECT_TRIP_PER_NDC, if most callers share one area code); 0: off",
    ),
    Spec(
        "DEFLECT_SMS_PER_NDC_DAY",
        _int(0, 10000000),
        "400",
        "SMS per UTC day to one national destination code: a fifth of DEFLECT_SMS_DAILY_BUDGET, so a "
        "range pumped slowly (under the trip and the hourly window) cannot take the day; 0: off",
    ),
    Spec(
        "DEFLECT_SMS_PER_COUNTRY_HOUR",
        _int(0, 100000),
        "300",
        "SMS per hour to one country: the busiest legitimate hour of a 2,000-a-day centre (15 %); 0: off",
    ),
    Spec(
        "DEFLECT_SMS_PER_COUNTRY_DAY",
        _int(0, 10000000),
        "1500",
        "SMS per UTC day to one country, below DEFLECT_SMS_DAILY_BUDGET so one pumped country cannot take "
        "the whole budget (set it to the budget if you serve one country only); 0: off",
    ),
    Spec(
        "DEFLECT_SMS_PER_CALLER_DAY",
        _int(0, 1000),
        "3",
        "SMS one calling number may trigger per UTC day, to any number (its own or keyed in); 0: off",
    ),
    Spec(
        "DEFLECT_SMS_PER_KEYED_NUMBER_DAY",
        _int(0, 1000),
        "1",
        "SMS per UTC day to a number somebody keyed in (nobody proved they hold it); 0: off",
    ),
    Spec(
        "DEFLECT_TRIP_WINDOW_SECONDS",
        _int(60, 86400),
        "600",
        "the sliding window of the SMS pumping trip (DEFLECT_TRIP_PER_PREFIX, DEFLECT_TRIP_PER_NDC)",
    ),
    Spec(
        "DEFLECT_TRIP_PER_PREFIX",
        _int(0, 100000),
        "5",
        "this many SMS to one prefix (10,000 numbers) within the trip window pause offers to it: a "
        "centre texting 300 an hour spread over thousands of prefixes almost never sends 5; 0: off",
    ),
    Spec(
        "DEFLECT_TRIP_PER_NDC",
        _int(0, 100000),
        "30",
        "this many SMS to one national destination code within the trip window pause offers to it: "
        "3 times the busiest legitimate rate (60 an hour, 10 in 10 minutes); 0: off",
    ),
    Spec(
        "DEFLECT_TRIP_PAUSE_HOURS",
        _int(1, 720),
        "24",
        "how long a tripped range stays paused (lift it early: deflect messaging resume --range ...)",
    ),
    Spec("DEFLECT_SMS_PER_MINUTE", _int(1, 100000), "60", "SMS per minute in all"),
    Spec("DEFLECT_SMS_DAILY_BUDGET", _int(1, 10000000), "2000", "SMS per day in all (UTC day)"),
    Spec("DEFLECT_SENDER_MPS", _int(1, 1000), "1", "messages per second one sender number may send"),
    Spec(
        "DEFLECT_REQUIRE_ATTESTATION",
        _choice("off", "a", "ab"),
        "off",
        "refuse the offer unless StirVerstat shows attestation A (or A/B) when present; a caller may "
        "key in another number to text only when StirVerstat is present and shows it",
    ),
    Spec(
        "DEFLECT_LINE_TYPE_LOOKUP",
        _choice("off", "ambiguous", "always"),
        "ambiguous",
        "Twilio Lookup v2 Line Type Intelligence before an offer (about US$0.008 a lookup at list "
        "price, cached per number): ambiguous: only numbers whose plan cannot tell mobile from "
        "landline (the US and Canada); always: every number about to be offered; off: never",
    ),
    Spec(
        "DEFLECT_LINE_TYPE_CACHE_DAYS",
        _int(1, 365),
        "30",
        "how long a number's looked-up line type is kept (a landline rarely becomes a mobile)",
    ),
    Spec(
        "DEFLECT_LINE_TYPE_TIMEOUT",
        _int(1, 10),
        "3",
        "seconds a line type lookup may take (a keyed-in number is looked up while the caller waits)",
    ),
    Spec(
        "DEFLECT_MAX_CHAT_BACKLOG",
        _int(0, 1000000),
        "0",
        "stop offering while this many chat sessions wait for an agent (0: no limit)",
    ),
    Spec(
        "DEFLECT_HANDOFF_ADAPTERS",
        _text,
        "card",
        "where chats go: conversations, webhook, card (comma-separated; the card link is in every one)",
    ),
    Spec(
        "DEFLECT_HANDOFF_ROUTES",
        _text,
        "",
        "per queue or flow: bank-cards=conversations,ru-bank-support=webhook+card (overrides the default)",
    ),
    Spec(
        "DEFLECT_HANDOFF_WEBHOOK_URL",
        _url(("http", "https")),
        None,
        "desk/CRM endpoint for the webhook adapter",
    ),
    Spec("DEFLECT_HANDOFF_WEBHOOK_SECRET", _text, None, "HMAC-SHA256 key for X-Signature", secret=True),
    Spec("DEFLECT_CARD_HOURS", _int(1, 720), "72", "how long a context-card link stays valid"),
    Spec(
        "DEFLECT_CHAT_LOOKUP_LIMIT",
        _int(1, 1000),
        "5",
        "failed reference or link lookups one chat sender may make per window; then it is not matched",
    ),
    Spec(
        "DEFLECT_CHAT_LOOKUP_WINDOW_MINUTES",
        _int(1, 1440),
        "60",
        "the window of DEFLECT_CHAT_LOOKUP_LIMIT (a sender over it is matched again in the next one)",
    ),
    Spec(
        "DEFLECT_TELEGRAM_BOT_TOKEN",
        _text,
        None,
        "Telegram Bot API token (replies, /start matching)",
        secret=True,
    ),
    Spec(
        "DEFLECT_TELEGRAM_SECRET",
        _pattern(r"[A-Za-z0-9_-]{1,256}", "1-256 of A-Z a-z 0-9 _ -"),
        None,
        "secret_token set with setWebhook; checked on every Telegram update",
        secret=True,
    ),
    Spec(
        "DEFLECT_TELEGRAM_API_BASE_URL",
        _url(("http", "https")),
        "https://api.telegram.org",
        "Telegram Bot API base URL (a local fake in tests)",
    ),
    Spec(
        "DEFLECT_VIBER_AUTH_TOKEN",
        _text,
        None,
        "Viber bot auth token: checks X-Viber-Content-Signature on /viber/webhook",
        secret=True,
    ),
    Spec(
        "TWILIO_CONVERSATIONS_SERVICE_SID",
        _pattern(r"IS[0-9a-fA-F]{32}", "IS + 32 hex"),
        None,
        "Conversations service for hand-offs (default service when unset)",
    ),
    Spec("DEFLECT_MAX_SEGMENTS", _int(1, 10), "2", "templates check warns above this many SMS segments"),
    Spec(
        "TWILIO_ACCOUNT_SID",
        _pattern(r"AC[0-9a-fA-F]{32}", "an Account SID (AC + 32 hex)"),
        None,
        "the Twilio account; unset: SMS go to the local outbox",
    ),
    Spec(
        "TWILIO_AUTH_TOKEN",
        _pattern(r"[0-9a-fA-F]{32}", "32 hex characters"),
        None,
        "checks X-Twilio-Signature and authenticates REST calls",
        secret=True,
    ),
    Spec(
        "TWILIO_API_KEY",
        _pattern(r"SK[0-9a-fA-F]{32}", "an API key SID (SK + 32 hex)"),
        None,
        "optional: REST calls with an API key instead of the auth token",
    ),
    Spec("TWILIO_API_SECRET", _text, None, "the API key's secret", secret=True),
    Spec(
        "TWILIO_API_BASE_URL",
        _url(("http", "https")),
        None,
        "replaces https://<any>.twilio.com for every Twilio host (a Prism mock in tests)",
    ),
    Spec(
        "TWILIO_API_BASE_URL_OVERRIDES",
        _text,
        "",
        "per-host overrides: conversations=http://127.0.0.1:4011,api=http://...",
    ),
    Spec("TWILIO_SMS_FROM", _e164, None, "sender number for SMS (or use a messaging service)"),
    Spec(
        "TWILIO_MESSAGING_SERVICE_SID",
        _pattern(r"MG[0-9a-fA-F]{32}", "MG + 32 hex"),
        None,
        "Messaging Service that picks the sender",
    ),
    Spec("TWILIO_HTTP_TIMEOUT", _int(1, 60), "10", "seconds before a Twilio REST call is abandoned"),
)

_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """The validated settings; attribute names are the variable names in lower case."""

    deflect_env: str
    database_url: str
    redis_url: str | None
    public_base_url: str | None
    deflect_max_body_kb: int
    trusted_proxy_count: int
    secret_key: str
    deflect_data_dir: Path
    deflect_flows_dir: Path
    deflect_templates_dir: Path
    deflect_log_format: str
    deflect_log_level: str
    deflect_skip_signature_check: bool
    deflect_hold_music_url: str
    deflect_fallback_queue: str
    deflect_allowed_regions: tuple[str, ...]
    deflect_brand: str
    deflect_whatsapp_number: str | None
    deflect_telegram_bot: str | None
    deflect_viber_uri: str | None
    deflect_link_mode: str
    deflect_session_hours: int
    deflect_retext_hours: int
    deflect_number_types: str
    deflect_sms_per_prefix_hour: int
    deflect_sms_per_ndc_hour: int
    deflect_sms_per_ndc_day: int
    deflect_sms_per_country_hour: int
    deflect_sms_per_country_day: int
    deflect_sms_per_caller_day: int
    deflect_sms_per_keyed_number_day: int
    deflect_trip_window_seconds: int
    deflect_trip_per_prefix: int
    deflect_trip_per_ndc: int
    deflect_trip_pause_hours: int
    deflect_sms_per_minute: int
    deflect_sms_daily_budget: int
    deflect_sender_mps: int
    deflect_require_attestation: str
    deflect_line_type_lookup: str
    deflect_line_type_cache_days: int
    deflect_line_type_timeout: int
    deflect_max_chat_backlog: int
    deflect_max_segments: int
    deflect_handoff_adapters: str
    deflect_handoff_routes: str
    deflect_handoff_webhook_url: str | None
    deflect_handoff_webhook_secret: str | None
    deflect_card_hours: int
    deflect_chat_lookup_limit: int
    deflect_chat_lookup_window_minutes: int
    deflect_telegram_bot_token: str | None
    deflect_telegram_secret: str | None
    deflect_telegram_api_base_url: str
    twilio_conversations_service_sid: str | None
    deflect_viber_auth_token: str | None
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_api_key: str | None
    twilio_api_secret: str | None
    twilio_api_base_url: str | None
    twilio_api_base_url_overrides: str
    twilio_sms_from: str | None
    twilio_messaging_service_sid: str | None
    twilio_http_timeout: int
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.deflect_env == "production"

    @property
    def twilio_enabled(self) -> bool:
        """REST calls go to Twilio (or its mock) only when an account is configured."""
        return bool(self.twilio_account_sid and (self.twilio_auth_token or self.twilio_api_key))

    @property
    def signature_token(self) -> str:
        """The key Twilio signs webhooks with. Without an account, a per-install development token
        (kept in SECRET_KEY's place) lets `deflect simulate` and tests sign requests the same way."""
        return self.twilio_auth_token or self.secret_key

    @property
    def textable_number_types(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.deflect_number_types.split(",") if t.strip())

    def host_overrides(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for part in self.twilio_api_base_url_overrides.split(","):
            if part.strip():
                host, _, url = part.partition("=")
                result[host.strip()] = url.strip().rstrip("/")
        return result


def load_settings(
    source: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings from `source` (tests) layered over `environ` (default: os.environ)."""
    env = dict(os.environ if environ is None else environ)
    given = {k: v for k, v in (source or {}).items()}
    extras = {k: given.pop(k) for k in list(given) if k in FLASK_KEYS}
    _reject_unknown([*given, *(k for k in env if k.startswith(OWN_PREFIXES))])
    raw: dict[str, Any] = {}
    for spec in SPECS:
        value = given.get(spec.name, env.get(spec.name))
        if value is None or (isinstance(value, str) and value.strip() == ""):
            value = spec.default
        if value is None:
            raw[spec.name.lower()] = None
        elif isinstance(value, str):
            raw[spec.name.lower()] = spec.coerce(spec.name, value)
        else:
            raw[spec.name.lower()] = spec.coerce(spec.name, str(value))
    _fill_defaults(raw)
    _check_combinations(raw)
    names = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in raw.items() if k in names}, extras=extras)


def _reject_unknown(names: list[str]) -> None:
    for name in names:
        if name not in _BY_NAME:
            close = difflib.get_close_matches(name, _BY_NAME, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"unknown setting {name}{hint}; known settings are listed in .env.example")


def _fill_defaults(raw: dict[str, Any]) -> None:
    data_dir: Path = raw["deflect_data_dir"]
    if not data_dir.is_absolute():
        raw["deflect_data_dir"] = data_dir = (Path.cwd() / data_dir).resolve()
    if raw["database_url"] is None:
        raw["database_url"] = f"sqlite:///{data_dir / 'deflect.sqlite3'}"
    if raw["secret_key"] is None:
        if raw["deflect_env"] == "production":
            raise SettingsError("SECRET_KEY is required in production (at least 32 random characters)")
        raw["secret_key"] = _development_secret(data_dir)


def _check_combinations(raw: dict[str, Any]) -> None:
    production = raw["deflect_env"] == "production"
    if production and len(raw["secret_key"]) < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters in production")
    _check_public_url(raw)
    if raw["twilio_api_key"] and not raw["twilio_api_secret"]:
        raise SettingsError("TWILIO_API_SECRET is required when TWILIO_API_KEY is set")
    if raw["twilio_account_sid"] and not (raw["twilio_auth_token"] or raw["twilio_api_key"]):
        raise SettingsError("TWILIO_AUTH_TOKEN (or TWILIO_API_KEY) is required with TWILIO_ACCOUNT_SID")
    if raw["twilio_account_sid"] and not raw["twilio_auth_token"]:
        # Webhook signatures are made with the auth token; an API key cannot check them.
        raise SettingsError("TWILIO_AUTH_TOKEN is required to check webhook signatures")
    _check_handoff(raw)
    if raw["twilio_account_sid"] and not (raw["twilio_sms_from"] or raw["twilio_messaging_service_sid"]):
        raise SettingsError("TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID is required to send SMS")
    for part in raw["twilio_api_base_url_overrides"].split(","):
        if part.strip():
            host, sep, url = part.partition("=")
            if not sep or not host.strip():
                raise SettingsError(
                    f"TWILIO_API_BASE_URL_OVERRIDES entries must look like host=URL, got {part!r}"
                )
            _url(("http", "https"))("TWILIO_API_BASE_URL_OVERRIDES", url)


def _check_public_url(raw: dict[str, Any]) -> None:
    """Where Twilio reaches us, and whether its signatures may be skipped."""
    production = raw["deflect_env"] == "production"
    if production and raw["deflect_skip_signature_check"]:
        raise SettingsError("DEFLECT_SKIP_SIGNATURE_CHECK cannot be set in production")
    if raw["deflect_skip_signature_check"] and not (
        raw["deflect_env"] == "development" and _is_loopback(raw["public_base_url"])
    ):
        # Anyone who can reach the gateway could post fake calls: only a developer's own machine may.
        raise SettingsError(
            "DEFLECT_SKIP_SIGNATURE_CHECK is allowed only with DEFLECT_ENV=development and a loopback "
            "PUBLIC_BASE_URL (such as http://127.0.0.1:5000)"
        )
    if production and not raw["public_base_url"]:
        raise SettingsError("PUBLIC_BASE_URL is required in production (the URL Twilio calls)")
    if production and urlsplit(raw["public_base_url"]).scheme != "https":
        # Twilio would post callers' numbers in clear, and the SMS links would be readable on the way.
        raise SettingsError("PUBLIC_BASE_URL must be an https:// URL in production")


def _check_handoff(raw: dict[str, Any]) -> None:
    adapters = {a.strip() for a in raw["deflect_handoff_adapters"].split(",") if a.strip()}
    unknown = adapters - {"conversations", "webhook", "card"}
    if unknown:
        raise SettingsError(f"DEFLECT_HANDOFF_ADAPTERS has unknown adapters: {', '.join(sorted(unknown))}")
    if "webhook" in raw["deflect_handoff_routes"] + raw["deflect_handoff_adapters"] and not (
        raw["deflect_handoff_webhook_url"] and raw["deflect_handoff_webhook_secret"]
    ):
        raise SettingsError(
            "DEFLECT_HANDOFF_WEBHOOK_URL and DEFLECT_HANDOFF_WEBHOOK_SECRET are required "
            "for the webhook hand-off adapter"
        )
    if raw["deflect_telegram_bot_token"] and not raw["deflect_telegram_secret"]:
        raise SettingsError(
            "DEFLECT_TELEGRAM_SECRET is required with DEFLECT_TELEGRAM_BOT_TOKEN "
            "(Telegram updates must be authenticated)"
        )


def _is_loopback(url: str | None) -> bool:
    """True for a URL on this machine only (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _development_secret(data_dir: Path) -> str:
    """A stable per-install secret for development, so sessions survive a restart."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        path.write_text(value)
        path.chmod(0o600)
        return value


def env_example() -> str:
    """The text of `.env.example`, generated from SPECS so the docs cannot drift from the code."""
    lines = ["# Settings of the deflection gateway. Every variable is optional in development.", ""]
    for spec in SPECS:
        lines.append(f"# {spec.doc}")
        default = "" if spec.default is None or spec.name.endswith("_DIR") else spec.default
        lines.append(f"#{spec.name}={default}")
        lines.append("")
    return "\n".join(lines)
