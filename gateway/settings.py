"""Every setting of the gateway, declared once, read once from the environment (or a dict in tests) and
validated into typed values.

Each setting is one field of `Settings`: its type, its default, how its text is read and one line of
documentation, from which `.env.example` is generated (`tests/test_settings.py` keeps the two in step).
A missing or malformed value raises `SettingsError` naming the variable, so the process fails at
start-up instead of on the first call.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

# Variables with these prefixes are ours: an unknown one is a typo, and a typo in a security setting
# must not pass silently.
OWN_PREFIXES = ("DEFLECT_", "TWILIO_")

# Flask's own keys a caller of create_app() may pass through (tests turn CSRF off for API tests).
FLASK_KEYS = frozenset({"TESTING", "DEBUG", "WTF_CSRF_ENABLED", "SERVER_NAME"})

PROJECT_ROOT = Path(__file__).resolve().parent.parent

HANDOFF_ADAPTERS = frozenset({"conversations", "webhook", "card"})


class SettingsError(ValueError):
    """A setting is missing, unknown or malformed; the message names it."""


# How a variable's text is read: each reader takes the variable's name (for the message) and its text,
# and returns the typed value.


def _items(raw: str, separator: str = ",") -> Iterator[str]:
    return (part.strip() for part in raw.split(separator) if part.strip())


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


_HTTP_URL = _url(("http", "https"))


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


def _windows(name: str, raw: str) -> tuple[timedelta, timedelta]:
    """Two spans such as 24h,7d: the short one first."""
    spans = []
    for item in _items(raw):
        match = re.fullmatch(r"(\d{1,4})([hd])", item)
        if match is None:
            raise SettingsError(f"{name}: {item!r} is not a span such as 24h or 7d")
        amount = int(match.group(1))
        spans.append(timedelta(hours=amount) if match.group(2) == "h" else timedelta(days=amount))
    if len(spans) != 2 or not timedelta(0) < spans[0] <= spans[1]:
        raise SettingsError(f"{name}: two spans, the short one first, such as 24h,7d (got {raw!r})")
    return spans[0], spans[1]


def _timezone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except Exception as exc:
        raise SettingsError(f"{name}: unknown time zone {raw!r} (an IANA name: Europe/Moscow)") from exc
    return raw.strip()


def _amount(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation as exc:
        raise SettingsError(f"{name}: {raw!r} is not a number such as 12.50") from exc
    if not value.is_finite() or value < 0:
        raise SettingsError(f"{name}: {raw!r} must be a number of at least 0")
    return value


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

    regions = tuple(part.upper() for part in _items(raw))
    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise SettingsError(f"{name} has unknown region codes: {', '.join(unknown)}")
    return regions


def _numbers(name: str, raw: str) -> frozenset[str]:
    return frozenset(_e164(name, item) for item in _items(raw))


def _path(name: str, raw: str) -> Path:
    return Path(raw.strip()).expanduser()


def _words(name: str, raw: str) -> frozenset[str]:
    return frozenset(_items(raw))


def _known_adapters(name: str, adapters: tuple[str, ...]) -> tuple[str, ...]:
    unknown = set(adapters) - HANDOFF_ADAPTERS
    if unknown:
        raise SettingsError(f"{name} has unknown adapters: {', '.join(sorted(unknown))}")
    return adapters


def _adapters(name: str, raw: str) -> tuple[str, ...]:
    # Nothing but commas still means the card, as an empty value does.
    return _known_adapters(name, tuple(_items(raw))) or ("card",)


def _routes(name: str, raw: str) -> dict[str, tuple[str, ...]]:
    """`queue-or-flow=adapter+adapter,...`"""
    routes: dict[str, tuple[str, ...]] = {}
    for entry in _items(raw):
        key, sep, names = entry.partition("=")
        adapters = tuple(_items(names, "+"))
        if not sep or not key.strip() or not adapters:
            raise SettingsError(f"{name} entries must look like queue=adapter+adapter, got {entry!r}")
        routes[key.strip()] = _known_adapters(name, adapters)
    return routes


def _host_ports(name: str, raw: str) -> tuple[tuple[str, int], ...]:
    """`host:port,...` (an IPv6 address in brackets: `[::1]:26379`)."""
    found: list[tuple[str, int]] = []
    for item in _items(raw):
        host, sep, port = item.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"{name} entries must look like host:port, got {item!r}")
        found.append((host, int(port)))
    return tuple(found)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(name: str, raw: str) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in _items(raw))
    except ValueError as exc:
        raise SettingsError(f"{name} must be networks such as 10.0.0.0/8,::1/128: {exc}") from None


def _host_urls(name: str, raw: str) -> dict[str, str]:
    """`host=URL,...`"""
    overrides: dict[str, str] = {}
    for part in raw.split(","):
        if part.strip():
            host, sep, target = part.partition("=")
            if not sep or not host.strip():
                raise SettingsError(f"{name} entries must look like host=URL, got {part!r}")
            overrides[host.strip()] = _HTTP_URL(name, target)
    return overrides


@dataclass(frozen=True)
class Variable:
    """How one variable is read: its default (the text the variable would hold; None: unset), its
    reader, and its line in `.env.example`."""

    default: str | None
    read: Callable[[str, str], Any]
    doc: str


def setting(default: str | None, read: Callable[[str, str], Any], doc: str, *, secret: bool = False) -> Any:
    """A field of `Settings` that is read from a variable; a secret stays out of the settings' repr."""
    return field(metadata={"variable": Variable(default, read, doc)}, repr=not secret)


@dataclass(frozen=True)
class Settings:
    """The validated settings; attribute names are the variable names in lower case."""

    deflect_env: str = setting(
        "development",
        _choice("development", "production", "test"),
        "development (readable logs, embedded defaults) or production (JSON logs, strict checks)",
    )
    # Unset: a SQLite file under DEFLECT_DATA_DIR (load_settings fills it in).
    database_url: str = setting(
        None,
        _database_url,
        "SQLAlchemy URL; default a SQLite file under DEFLECT_DATA_DIR; postgresql://user@host/db",
    )
    redis_url: str | None = setting(
        None,
        _url(("redis", "rediss", "unix")),
        "Redis for call state, rate limits and the job queue, one server; unset (and no REDIS_SENTINELS): "
        "the embedded server `deflect serve` starts (other commands use it while it runs)",
    )
    redis_sentinels: tuple[tuple[str, int], ...] = setting(
        "",
        _host_ports,
        "instead of REDIS_URL, Redis with Sentinel failover: the sentinels, comma-separated host:port "
        "(s1:26379,s2:26379,s3:26379); every process asks them where the primary is now",
    )
    redis_sentinel_master: str | None = setting(
        None,
        _pattern(r"[A-Za-z0-9._-]{1,64}", "a Sentinel master name (A-Z a-z 0-9 . _ -)"),
        "with REDIS_SENTINELS: the primary's name in the sentinels' `sentinel monitor <name> ...`",
    )
    redis_password: str | None = setting(
        None,
        _text,
        "with REDIS_SENTINELS: the password of the primary and its replicas (REDIS_URL carries its own)",
        secret=True,
    )
    redis_sentinel_password: str | None = setting(
        None, _text, "with REDIS_SENTINELS: the sentinels' own password, if they require one", secret=True
    )
    public_base_url: str | None = setting(
        None,
        _HTTP_URL,
        "the URL Twilio reaches us at (https://voice.example.bank); used for signatures and links",
    )
    deflect_max_body_kb: int = setting(
        "128", _int(16, 4096), "largest request body accepted, in KiB (413 past it); a webhook is a few KiB"
    )
    trusted_proxy_count: int = setting(
        "0", _int(0, 5), "reverse proxies in front of us whose X-Forwarded-* headers are trusted"
    )
    deflect_metrics_token: str | None = setting(
        None,
        _pattern(r"[A-Za-z0-9._~+/=-]{32,256}", "32-256 characters of A-Z a-z 0-9 . _ ~ + / = -"),
        "/metrics answers only with `Authorization: Bearer <this>`; /metrics is off (404) unless this "
        "or DEFLECT_METRICS_NETWORKS is set",
        secret=True,
    )
    deflect_metrics_networks: tuple[IPNetwork, ...] = setting(
        "",
        _networks,
        "client networks /metrics answers (CIDRs, comma-separated: 127.0.0.1/32,10.0.0.0/8); with "
        "DEFLECT_METRICS_TOKEN too, both are required",
    )
    # Unset: required in production; in development a per-install secret (load_settings fills it in).
    secret_key: str = setting(
        None, _text, "signs sessions, CSRF tokens and context-card links; required in production", secret=True
    )
    deflect_data_dir: Path = setting(
        "var", _path, "where the SQLite file and the embedded Redis (redis.json) live"
    )
    deflect_flows_dir: Path = setting(
        str(PROJECT_ROOT / "ivr_flows"),
        _path,
        "the IVR flow files: imported as version 1 into an empty content store, and where "
        "`deflect content import|export` read and write flows",
    )
    deflect_templates_dir: Path = setting(
        str(PROJECT_ROOT / "sms_templates"),
        _path,
        "the SMS texts' files: imported into an empty content store, like DEFLECT_FLOWS_DIR",
    )
    deflect_test_callers: frozenset[str] = setting(
        "",
        _numbers,
        "caller numbers (E.164, comma-separated) whose calls play the drafts of flows and texts",
    )
    deflect_voice_texts_dir: Path = setting(
        str(PROJECT_ROOT / "voice_texts"),
        _path,
        "what callers hear in the deflection dialogue, a file per locale: imported into an empty "
        "content store, like DEFLECT_FLOWS_DIR",
    )
    deflect_recontact_windows: tuple[timedelta, timedelta] = setting(
        "24h,7d",
        _windows,
        "net deflection's two re-contact windows (short,long; h or d): a deflected call whose number "
        "calls again within one is not counted as deflected in that net figure; after a change, "
        "`deflect report rebuild`",
    )
    deflect_report_timezone: str = setting(
        "Europe/Moscow", _timezone, "reports' days and hours, unless a report asks for another zone"
    )
    deflect_report_handle_minutes: Decimal = setting(
        "6", _amount, "agent minutes a deflected call would have taken (the savings estimate)"
    )
    deflect_report_agent_minute_cost: Decimal = setting(
        "0", _amount, "cost of an agent minute, in DEFLECT_REPORT_CURRENCY (the savings estimate)"
    )
    deflect_report_sms_segment_cost: Decimal = setting(
        "0", _amount, "cost of one SMS segment, in DEFLECT_REPORT_CURRENCY (the savings estimate)"
    )
    deflect_report_currency: str = setting(
        "RUB", _pattern(r"^[A-Z]{3}$", "an ISO 4217 code such as KZT"), "the savings estimate's currency"
    )
    deflect_log_format: str = setting(
        "auto", _choice("auto", "json", "text"), "auto: JSON in production, readable text in development"
    )
    deflect_log_level: str = setting("info", _choice("debug", "info", "warning", "error"), "log level")
    deflect_admin_four_eyes: bool = setting(
        "false", _bool, "admin console: a draft is published only by someone other than its author"
    )
    deflect_skip_signature_check: bool = setting(
        "false", _bool, "DEVELOPMENT ONLY (with a loopback PUBLIC_BASE_URL): accept unsigned Twilio webhooks"
    )
    deflect_hold_music_url: str = setting(
        "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3",
        _HTTP_URL,
        "hold audio played whenever anything internal fails",
    )
    deflect_fallback_queue: str = setting(
        "support", _text, "queue a caller is put in when the flow cannot run"
    )
    deflect_allowed_regions: tuple[str, ...] = setting(
        "", _regions, "regions that may ever be texted (a cap over every flow's home_regions); empty: no cap"
    )
    deflect_brand: str = setting("Support", _text, "the company name used in SMS and chat texts")
    deflect_whatsapp_number: str | None = setting(
        None,
        _e164,
        "the business WhatsApp number callers continue with (wa.me link); required to offer WhatsApp",
    )
    deflect_telegram_bot: str | None = setting(
        None,
        _pattern(r"[A-Za-z][A-Za-z0-9_]{4,31}", "a Telegram bot username"),
        "Telegram bot username for t.me links (optional channel)",
    )
    deflect_viber_uri: str | None = setting(
        None,
        _pattern(r"[A-Za-z0-9_.-]{1,64}", "a Viber chat URI"),
        "Viber bot chat URI for viber://pa links (optional channel)",
    )
    deflect_link_mode: str = setting(
        "short",
        _choice("short", "direct"),
        "short: our own tracked /l/<token> link; direct: the wa.me link itself in the SMS",
    )
    deflect_session_hours: int = setting("24", _int(1, 168), "how long a chat session (and its link) lives")
    deflect_retext_hours: int = setting("24", _int(0, 720), "no second SMS to one number within these hours")
    deflect_number_types: frozenset[str] = setting(
        "mobile,fixed_line_or_mobile",
        _words,
        "number types that may be texted (fixed_line_or_mobile: where the plan cannot tell)",
    )
    deflect_sms_per_prefix_hour: int = setting(
        "20",
        _int(1, 100000),
        "SMS per hour to one number prefix (E.164 without the last 4 digits): SMS pumping guard",
    )
    deflect_sms_per_ndc_hour: int = setting(
        None,
        _int(0, 100000),
        "SMS per hour to one national destination code (an area or mobile code, up to ~10 M numbers); "
        "default 3 % of DEFLECT_SMS_DAILY_BUDGET (60 of 2,000): a fifth of a busiest legitimate hour "
        "going to one code (raise it, and DEFLECT_TRIP_PER_NDC, if most callers share one code); 0: off",
    )
    deflect_sms_per_ndc_day: int = setting(
        None,
        _int(0, 10000000),
        "SMS per UTC day to one national destination code; default a fifth of DEFLECT_SMS_DAILY_BUDGET "
        "(400 of 2,000), so a range pumped slowly (under the trip and the hourly window) cannot take "
        "the day; 0: off",
    )
    deflect_sms_per_country_hour: int = setting(
        None,
        _int(0, 100000),
        "SMS per hour to one country; default 15 % of DEFLECT_SMS_DAILY_BUDGET (300 of 2,000), the "
        "busiest legitimate hour of a centre; 0: off",
    )
    deflect_sms_per_country_day: int = setting(
        None,
        _int(0, 10000000),
        "SMS per UTC day to one country; default 75 % of DEFLECT_SMS_DAILY_BUDGET (1,500 of 2,000), so "
        "one pumped country cannot take the whole budget (set it to the budget if you serve one "
        "country only); 0: off",
    )
    deflect_sms_per_caller_day: int = setting(
        "3",
        _int(0, 1000),
        "SMS one calling number may trigger per UTC day, to any number (its own or keyed in); 0: off",
    )
    deflect_sms_per_keyed_number_day: int = setting(
        "1",
        _int(0, 1000),
        "SMS per UTC day to a number somebody keyed in (nobody proved they hold it); 0: off",
    )
    deflect_trip_window_seconds: int = setting(
        "600",
        _int(60, 86400),
        "the sliding window of the SMS pumping trip (DEFLECT_TRIP_PER_PREFIX, DEFLECT_TRIP_PER_NDC)",
    )
    deflect_trip_per_prefix: int = setting(
        "5",
        _int(0, 100000),
        "this many SMS to one prefix (10,000 numbers) within the trip window pause offers to "
        "it: a centre texting 300 an hour spread over thousands of prefixes almost never sends 5; 0: off",
    )
    deflect_trip_per_ndc: int = setting(
        "30",
        _int(0, 100000),
        "this many SMS to one national destination code within the trip window pause offers "
        "to it: 3 times the busiest legitimate rate (60 an hour, 10 in 10 minutes); 0: off",
    )
    deflect_trip_pause_hours: int = setting(
        "24",
        _int(1, 720),
        "how long a tripped range stays paused (lift it early: deflect messaging resume --range ...)",
    )
    deflect_sms_per_minute: int = setting("60", _int(1, 100000), "SMS per minute in all")
    deflect_sms_daily_budget: int = setting("2000", _int(1, 10000000), "SMS per day in all (UTC day)")
    deflect_sender_mps: int = setting("1", _int(1, 1000), "messages per second one sender number may send")
    deflect_require_attestation: str = setting(
        "off",
        _choice("off", "a", "ab"),
        "refuse the offer unless StirVerstat shows attestation A (or A/B) when present; a "
        "caller may key in another number to text only when StirVerstat is present and shows it",
    )
    deflect_line_type_lookup: str = setting(
        "ambiguous",
        _choice("off", "ambiguous", "always"),
        "Twilio Lookup v2 Line Type Intelligence before an offer (about US$0.008 a lookup at "
        "list price, cached per number): ambiguous: only numbers whose plan cannot tell mobile from "
        "landline (the US and Canada); always: every number about to be offered; off: never",
    )
    deflect_line_type_cache_days: int = setting(
        "30",
        _int(1, 365),
        "how long a number's looked-up line type is kept (a landline rarely becomes a mobile)",
    )
    deflect_line_type_timeout: int = setting(
        "3",
        _int(1, 10),
        "seconds a line type lookup may take (a keyed-in number is looked up while the caller waits)",
    )
    deflect_max_chat_backlog: int = setting(
        "0", _int(0, 1000000), "stop offering while this many chat sessions wait for an agent (0: no limit)"
    )
    deflect_handoff_adapters: tuple[str, ...] = setting(
        "card",
        _adapters,
        "where chats go: conversations, webhook, card (comma-separated; the card link is in every one)",
    )
    deflect_handoff_routes: Mapping[str, tuple[str, ...]] = setting(
        "",
        _routes,
        "per queue or flow: bank-cards=conversations,ru-bank-support=webhook+card (overrides the default)",
    )
    deflect_handoff_webhook_url: str | None = setting(
        None, _HTTP_URL, "desk/CRM endpoint for the webhook adapter"
    )
    deflect_handoff_webhook_secret: str | None = setting(
        None, _text, "HMAC-SHA256 key for X-Signature", secret=True
    )
    deflect_card_hours: int = setting("72", _int(1, 720), "how long a context-card link stays valid")
    deflect_chat_lookup_limit: int = setting(
        "5",
        _int(1, 1000),
        "failed reference or link lookups one chat sender may make per window; then it is not matched",
    )
    deflect_chat_lookup_window_minutes: int = setting(
        "60",
        _int(1, 1440),
        "the window of DEFLECT_CHAT_LOOKUP_LIMIT (a sender over it is matched again in the next one)",
    )
    deflect_telegram_bot_token: str | None = setting(
        None, _text, "Telegram Bot API token (replies, /start matching)", secret=True
    )
    deflect_telegram_secret: str | None = setting(
        None,
        _pattern(r"[A-Za-z0-9_-]{1,256}", "1-256 of A-Z a-z 0-9 _ -"),
        "secret_token set with setWebhook; checked on every Telegram update",
        secret=True,
    )
    deflect_telegram_api_base_url: str = setting(
        "https://api.telegram.org", _HTTP_URL, "Telegram Bot API base URL (a local fake in tests)"
    )
    deflect_viber_auth_token: str | None = setting(
        None, _text, "Viber bot auth token: checks X-Viber-Content-Signature on /viber/webhook", secret=True
    )
    twilio_conversations_service_sid: str | None = setting(
        None,
        _pattern(r"IS[0-9a-fA-F]{32}", "IS + 32 hex"),
        "Conversations service for hand-offs (default service when unset)",
    )
    deflect_max_segments: int = setting(
        "2", _int(1, 10), "templates check warns above this many SMS segments"
    )
    twilio_account_sid: str | None = setting(
        None,
        _pattern(r"AC[0-9a-fA-F]{32}", "an Account SID (AC + 32 hex)"),
        "the Twilio account; unset: SMS go to the dev inbox",
    )
    twilio_auth_token: str | None = setting(
        None,
        _pattern(r"[0-9a-fA-F]{32}", "32 hex characters"),
        "checks X-Twilio-Signature and authenticates REST calls",
        secret=True,
    )
    twilio_api_key: str | None = setting(
        None,
        _pattern(r"SK[0-9a-fA-F]{32}", "an API key SID (SK + 32 hex)"),
        "optional: REST calls with an API key instead of the auth token",
    )
    twilio_api_secret: str | None = setting(None, _text, "the API key's secret", secret=True)
    twilio_api_base_url: str | None = setting(
        None, _HTTP_URL, "replaces https://<any>.twilio.com for every Twilio host (a Prism mock in tests)"
    )
    twilio_api_base_url_overrides: Mapping[str, str] = setting(
        "", _host_urls, "per-host overrides: conversations=http://127.0.0.1:4011,api=http://..."
    )
    twilio_sms_from: str | None = setting(None, _e164, "sender number for SMS (or use a messaging service)")
    twilio_messaging_service_sid: str | None = setting(
        None, _pattern(r"MG[0-9a-fA-F]{32}", "MG + 32 hex"), "Messaging Service that picks the sender"
    )
    twilio_http_timeout: int = setting("10", _int(1, 60), "seconds before a Twilio REST call is abandoned")

    # Not a variable: Flask's own keys passed through (FLASK_KEYS).
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
    def handoff_adapters_named(self) -> frozenset[str]:
        """Every hand-off adapter the default list or a route names."""
        return frozenset(self.deflect_handoff_adapters).union(*self.deflect_handoff_routes.values())


def variables() -> Iterator[tuple[str, Variable]]:
    """Every variable's name and how it is read, in the order of `.env.example`."""
    for spec in fields(Settings):
        if "variable" in spec.metadata:
            yield spec.name.upper(), spec.metadata["variable"]


NAMES = tuple(name for name, _ in variables())


def load_settings(
    source: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings from `source` (tests) layered over `environ` (default: os.environ)."""
    env = os.environ if environ is None else environ
    given = dict(source or {})
    extras = {k: given.pop(k) for k in list(given) if k in FLASK_KEYS}
    _reject_unknown([*given, *(k for k in env if k.startswith(OWN_PREFIXES))])
    raw: dict[str, Any] = {}
    for name, variable in variables():
        value = given.get(name, env.get(name))
        # An empty value is an unset one: the default applies.
        text = str(value) if value is not None and str(value).strip() else variable.default
        raw[name.lower()] = None if text is None else variable.read(name, text)
    _fill_defaults(raw)
    settings = Settings(**raw, extras=extras)
    _check_combinations(settings)
    return settings


def _reject_unknown(names: list[str]) -> None:
    for name in names:
        if name not in NAMES:
            close = difflib.get_close_matches(name, NAMES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"unknown setting {name}{hint}; known settings are listed in .env.example")


# Percent of DEFLECT_SMS_DAILY_BUDGET each coarser SMS pumping window defaults to.
BUDGET_SHARES = {
    "deflect_sms_per_ndc_hour": 3,
    "deflect_sms_per_ndc_day": 20,
    "deflect_sms_per_country_hour": 15,
    "deflect_sms_per_country_day": 75,
}


def _fill_defaults(raw: dict[str, Any]) -> None:
    data_dir: Path = raw["deflect_data_dir"]
    if not data_dir.is_absolute():
        raw["deflect_data_dir"] = data_dir = (Path.cwd() / data_dir).resolve()
    if raw["database_url"] is None:
        raw["database_url"] = f"sqlite:///{data_dir / 'deflect.sqlite3'}"
    # The coarser SMS pumping windows follow the daily budget unless set: raising the budget raises
    # them (a country capped at yesterday's 1,500 would quietly refuse today's callers).
    budget = raw["deflect_sms_daily_budget"]
    for name, share in BUDGET_SHARES.items():
        if raw[name] is None:
            raw[name] = max(1, budget * share // 100)
    if raw["secret_key"] is None:
        if raw["deflect_env"] == "production":
            raise SettingsError("SECRET_KEY is required in production (at least 32 random characters)")
        raw["secret_key"] = _development_secret(data_dir)


def _check_combinations(settings: Settings) -> None:
    if settings.production and len(settings.secret_key) < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters in production")
    _check_public_url(settings)
    _check_redis(settings)
    if settings.twilio_api_key and not settings.twilio_api_secret:
        raise SettingsError("TWILIO_API_SECRET is required when TWILIO_API_KEY is set")
    if settings.twilio_account_sid and not (settings.twilio_auth_token or settings.twilio_api_key):
        raise SettingsError("TWILIO_AUTH_TOKEN (or TWILIO_API_KEY) is required with TWILIO_ACCOUNT_SID")
    if settings.twilio_account_sid and not settings.twilio_auth_token:
        # Webhook signatures are made with the auth token; an API key cannot check them.
        raise SettingsError("TWILIO_AUTH_TOKEN is required to check webhook signatures")
    _check_handoff(settings)
    if settings.twilio_account_sid and not (
        settings.twilio_sms_from or settings.twilio_messaging_service_sid
    ):
        raise SettingsError("TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID is required to send SMS")


def _check_public_url(settings: Settings) -> None:
    """Where Twilio reaches us, and whether its signatures may be skipped."""
    if settings.production and settings.deflect_skip_signature_check:
        raise SettingsError("DEFLECT_SKIP_SIGNATURE_CHECK cannot be set in production")
    if settings.deflect_skip_signature_check and not (
        settings.deflect_env == "development" and _is_loopback(settings.public_base_url)
    ):
        # Anyone who can reach the gateway could post fake calls: only a developer's own machine may.
        raise SettingsError(
            "DEFLECT_SKIP_SIGNATURE_CHECK is allowed only with DEFLECT_ENV=development and a loopback "
            "PUBLIC_BASE_URL (such as http://127.0.0.1:5000)"
        )
    if settings.production and not settings.public_base_url:
        raise SettingsError("PUBLIC_BASE_URL is required in production (the URL Twilio calls)")
    if settings.production and urlsplit(settings.public_base_url).scheme != "https":
        # Twilio would post callers' numbers in clear, and the SMS links would be readable on the way.
        raise SettingsError("PUBLIC_BASE_URL must be an https:// URL in production")


def _check_redis(settings: Settings) -> None:
    """One way to Redis: a URL, or the sentinels of a named primary."""
    if settings.redis_url and settings.redis_sentinels:
        raise SettingsError("set REDIS_URL or REDIS_SENTINELS, not both")
    if settings.redis_sentinels and not settings.redis_sentinel_master:
        raise SettingsError("REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS")
    if not settings.redis_sentinels:
        for name in ("redis_sentinel_master", "redis_password", "redis_sentinel_password"):
            if getattr(settings, name):
                raise SettingsError(f"{name.upper()} is set but REDIS_SENTINELS is not")


def _check_handoff(settings: Settings) -> None:
    """Every hand-off adapter named has what it needs; Telegram updates are authenticated."""
    if "webhook" in settings.handoff_adapters_named and not (
        settings.deflect_handoff_webhook_url and settings.deflect_handoff_webhook_secret
    ):
        raise SettingsError(
            "DEFLECT_HANDOFF_WEBHOOK_URL and DEFLECT_HANDOFF_WEBHOOK_SECRET are required "
            "for the webhook hand-off adapter"
        )
    if settings.deflect_telegram_bot_token and not settings.deflect_telegram_secret:
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
    """The text of `.env.example`, generated from `Settings` so the docs cannot drift from the code."""
    lines = ["# Settings of the deflection gateway. Every variable is optional in development.", ""]
    for name, variable in variables():
        lines.append(f"# {variable.doc}")
        default = "" if variable.default is None or name.endswith("_DIR") else variable.default
        lines.append(f"#{name}={default}")
        lines.append("")
    return "\n".join(lines)
