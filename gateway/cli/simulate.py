"""`deflect simulate`: play a call in the terminal (the player of `gateway.simulation`), at any time of
day, at any queue position, with any flow file, and with the SMS landing in the dev inbox with a link
that opens on the running gateway.
"""

from __future__ import annotations

import random
import secrets
import tempfile
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from gateway.cli import base

OPEN = "open"
OPEN_FOR = 3600.0
STEP = 300.0
SCRIPT_HELP = (
    "play without asking, one item per prompt, comma-separated: digits, nothing (no input), "
    "s:words (spoken), wN (wait N s in the queue), a (an agent answers), q (hang up); "
    "e.g. '1,2,,w120,1,1'"
)


@click.command()
@click.option(
    "--to", "called", default=None, help="the number called (picks the flow); default flow if unset"
)
@click.option(
    "--from",
    "caller",
    default=None,
    help="the caller's number; default: a new mobile number of the flow's home region each run, "
    "so the once-a-day SMS limit does not refuse the next try",
)
@click.option("--keys", default=None, help=SCRIPT_HELP)
@click.option(
    "--at",
    "at",
    default=None,
    help="when the call is made: 2026-11-24T12:00, or 12:00 for today, in the flow's time zone unless "
    "it carries one (2026-11-24T12:00+03:00); or 'open': the next time the flow is open (now if it is, "
    "with an hour to go); default: now",
)
@click.option(
    "--position", default=3, show_default=True, type=click.IntRange(min=1), help="place in the queue"
)
@click.option(
    "--avg-wait",
    default=300,
    show_default=True,
    type=click.IntRange(min=0),
    help="the queue's average wait, s",
)
@click.option(
    "--flow",
    "flow_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="play this flow file for every number, without publishing it (real calls do not see it)",
)
@click.option(
    "--draft",
    "drafts",
    is_flag=True,
    help="play the drafts (flows, SMS and voice texts; `deflect content draft`) over the live versions, "
    "as allow-listed test callers hear them; real calls keep the live ones",
)
def simulate(
    called: str | None,
    caller: str | None,
    keys: str | None,
    at: str | None,
    position: int,
    avg_wait: int,
    flow_file: Path | None,
    drafts: bool,
) -> None:
    """Play a call in the terminal: hear what the caller hears, press keys or speak, wait in queue."""
    from gateway.clock import ManualClock, SystemClock
    from gateway.simulation.player import Player

    clock = ManualClock(SystemClock().time())
    moment = _parse_at(at) if at is not None else None  # a bad --at fails before anything starts
    app = _simulation_app(clock)
    svc = app.extensions["deflect"]
    if flow_file is not None:
        _play_only(svc, flow_file)
    if drafts:
        _play_drafts(svc)
    flows = svc.registry.flows(drafts=drafts)
    flow = flows.for_number(called) if called else flows.default
    zone = ZoneInfo(flow.hours.timezone) if flow.hours else UTC
    if moment == OPEN:
        clock.set(next_open(flow.hours, clock.time()))
    elif isinstance(moment, datetime | time):
        clock.set(_in_zone(moment, zone, clock.now().astimezone(zone).date()))
    base.note(
        f"time      {clock.now().astimezone(zone):%Y-%m-%d %H:%M %Z} for flow {flow.id} v{flow.version}"
    )
    script = keys.split(",") if keys is not None else None
    player = Player(
        app,
        caller=caller or random_mobile(flow.home_regions),
        called=called,
        hear=_echo_heard,
        inputs=_scripted(script) if script is not None else _asked,
        base_url=_link_base(svc.settings),
        position=position,
        avg_wait=avg_wait,
    )
    click.echo(f"Calling {player.called} from {player.caller} (CallSid {player.call_sid})")
    player.run()
    click.echo("-- call ended")


def _echo_heard(item: Any) -> None:
    """One line per thing heard; the caller's inputs are echoed with their prompts."""
    lines = {
        "say": f"  🔊 {item.text}",
        "music": "  ♪ hold music",
        "unknown": f"  ? <{item.text}>",
        "keys_only": "  (this prompt takes keys only)",
        "queued": f"  ⏳ waiting in queue '{item.text}'",
        "variant": f"  🧪 offer experiment: this call is in variant '{item.text}'",
        "leave": "  ↪ leaves the queue",
        "dial": f"  ☎ dialling {item.text}",
        "agent": "  ✔ an agent answers",
        "hangup": "  ✆ hangs up",
        "job_failed": f"  ! the job {item.text} failed",
    }
    if item.kind in lines:
        click.echo(lines[item.kind])


def _prompt_text(prompt: Any) -> str:
    from gateway.simulation.player import WAIT_PASS_SECONDS

    if prompt.kind == "queue":
        return (
            f"  [{prompt.waited}s in queue] Enter: keep waiting {WAIT_PASS_SECONDS}s,"
            " wN: wait N s, a: an agent answers, q: hang up >"
        )
    return f"  keys (Enter: none{', s:words: speak' if prompt.speech else ''}) >"


def _asked(prompt: Any) -> str:
    return str(click.prompt(_prompt_text(prompt), default="", show_default=False))


def _scripted(script: list[str]) -> Any:
    """The script's items in turn, each echoed after its prompt; past its end, the caller hangs up."""
    remaining = list(script)

    def answer(prompt: Any) -> str:
        if not remaining:
            return "q"
        keys = remaining.pop(0).strip()
        click.echo(f"{_prompt_text(prompt)} {keys}")
        return keys

    return answer


def _simulation_app(clock: Any) -> Any:
    """The app on the running gateway's Redis if there is one (used, left running); otherwise a
    private Redis for this one call, stopped when it ends. The call's jobs (its SMS) go to a queue of
    their own and run in this process, on the simulated clock: a running gateway's worker, sharing
    the Redis, neither takes them nor races the simulation."""
    from gateway.store.redis import EmbeddedRedis, find_running

    settings = base.settings()
    queue_name = f"simulate-{secrets.token_hex(8)}"
    if settings.redis_url or settings.redis_sentinels:
        return base.build_app(clock, queue_name=queue_name)
    found = find_running(settings.deflect_data_dir)
    if found is not None:
        base.note(f"redis     the running gateway's (process {found.owner_pid}); it keeps running")
        return base.build_app(clock, queue_name=queue_name)
    context = click.get_current_context()
    workdir = context.with_resource(tempfile.TemporaryDirectory(prefix="deflect-simulate-"))
    private = EmbeddedRedis(Path(workdir))
    context.call_on_close(private.shutdown)
    base.note("redis     no gateway is running: a private Redis for this call, stopped when it ends")
    return base.build_app(clock, redis_url=private.url, queue_name=queue_name)


def _play_only(svc: Any, path: Path) -> None:
    from gateway.flows.crosschecks import missing_texts
    from gateway.flows.loader import check_flow_text, format_problem
    from gateway.services import deployment

    checked = check_flow_text(path.read_text(encoding="utf-8"), str(path))
    spoken = svc.registry.voice_texts()
    texts = deployment(svc.settings, svc.registry.templates(), spoken.locales if spoken else ())
    problems = list(checked.problems) or missing_texts([checked], texts)
    for problem in problems:
        click.echo(format_problem(problem), err=True)
    if problems or checked.flow is None:
        raise click.ClickException(f"{path} cannot be played")
    svc.registry.serve_only(checked.flow)
    base.note(f"flow      {path} (not published)")


def _play_drafts(svc: Any) -> None:
    """This simulated call hears the drafts, as a test caller would; one with problems is not played
    (its live version is), and says so."""
    drafted = svc.content.store.drafts()
    for draft in drafted:
        if draft.problems:
            base.note(f"draft     {draft.kind} {draft.key} has problems: the live version plays instead")
        else:
            started = f"v{draft.based_on}" if draft.based_on else "nothing"
            base.note(f"draft     {draft.kind} {draft.key} (started from {started}, not published)")
    if not drafted:
        base.note("draft     there are no drafts: the live versions play")
    svc.voice.play_drafts = True


def _link_base(settings: Any) -> str:
    """Where the links in the SMS point: the server that will open them."""
    from gateway.cli.serving import running_gateway
    from gateway.services import DEVELOPMENT_BASE_URL

    if settings.public_base_url:
        return str(settings.public_base_url)
    running = running_gateway(settings.deflect_data_dir)
    if running is not None:
        return running.base_url
    base.note(f"links     {DEVELOPMENT_BASE_URL} (no gateway running: `make run` serves them there)")
    return DEVELOPMENT_BASE_URL


def _parse_at(text: str) -> datetime | time | str:
    if text.strip().lower() == OPEN:
        return OPEN
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give a date and time (2026-11-24T12:00), a time of day (12:00) or 'open'",
            param_hint="--at",
        ) from None


def next_open(hours: Any, start: float) -> float:
    """The first moment from `start` on (in 5-minute steps, up to four weeks) when the flow is open and
    stays open for an hour: long enough to wait in the queue and take the offer."""
    from gateway.flows.schedule import is_open

    moment = start
    while moment < start + 28 * 86400:
        if is_open(hours, moment) and is_open(hours, moment + OPEN_FOR):
            return moment
        moment = (moment // STEP + 1) * STEP
    raise click.ClickException("the flow is not open for an hour at any time in the next four weeks")


def _in_zone(moment: datetime | time, zone: tzinfo, today: date) -> datetime:
    """A date and time, or a time today, in `zone` unless it carries its own offset."""
    when = moment if isinstance(moment, datetime) else datetime.combine(today, moment)
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def random_mobile(regions: list[str]) -> str:
    """A valid mobile number of the first home region, different on each run (E.164)."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    region = regions[0] if regions else "RU"
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        return "+79161234567"
    national = str(example.national_number)
    for _ in range(50):
        tail = "".join(str(random.randrange(10)) for _ in range(min(6, len(national) - 3)))
        candidate = phonenumbers.parse(f"+{example.country_code}{national[: -len(tail)]}{tail}")
        if phonenumbers.is_valid_number(candidate) and phonenumbers.number_type(candidate) in (
            PhoneNumberType.MOBILE,
            PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
