"""Webhook throughput with a load generator written in C (wrk), so the client is not the bottleneck:
the wait loop and the incoming call next to a bare Flask endpoint that returns fixed TwiML under the
same gunicorn settings, measured in one run (issue 12's targets: wait loop >= 60 % of bare, incoming
call >= 40 %, p99 < 10 ms at 16 connections). Beside each, its floor: the least any implementation of
that webhook must do in the same stack (FLOOR_APP below), so that what the gateway's own code costs
is told apart from what the stack costs.

    python -m bench.webhooks [--connections 16] [--duration 8] [--rounds 3] [--workers 2]
                             [--worker-class sync] [--json]

Every endpoint runs once per round, in turn, and the medians over the rounds are printed: on a shared
machine a slow spell then lands on every endpoint of a round, not on one.

wrk (Debian package `wrk`) replays pre-signed requests (bench/webhooks.lua): the wait loop cycles
over 64 callers already in the queue; every incoming call has a new CallSid. Before the timed runs each
endpoint's answer is checked: the real TwiML, not the hold fallback. SQLite and a private Redis server
unless DATABASE_URL / REDIS_URL say otherwise. Loopback only; the script stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from bench.wait_loop import BARE_APP, ROOT, WAIT_PARAMS, log_tail, signed, start_gunicorn

LUA = Path(__file__).with_name("webhooks.lua")
QUEUED_CALLERS = 64

# The floor: the least any implementation of these two webhooks has to do, in the same stack (Flask,
# the twilio library's signature, redis-py, phonenumbers) under the same gunicorn settings. The wait
# loop: check the signature over the form, read the caller's state from Redis and decode it, answer
# fixed TwiML. The incoming call: check the signature, parse the caller's number into E.164 and its
# type, keep the new state and its events in Redis (one pipelined round trip), answer fixed TwiML.
# What the gateway does beyond this is what its own code costs; what the floor costs, no gateway
# code can take away.
FLOOR_APP = """
import json, os
import phonenumbers
import redis
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

app = Flask(__name__)
store = redis.Redis.from_url(os.environ["REDIS_URL"])
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
BASE = os.environ["PUBLIC_BASE_URL"]
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Play loop="1">http://x/m.mp3</Play></Response>'
GATHER = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/menu" numDigits="1">'
          '<Say>Press 1</Say></Gather></Response>')


def signed_form():
    form = request.form
    url = BASE + request.path
    if validator.compute_signature(url, form) != request.headers.get("X-Twilio-Signature"):
        return None
    return form


@app.post("/twilio/voice/wait")
def wait():
    form = signed_form()
    if form is None:
        return Response("forbidden", status=403)
    state = json.loads(store.get("deflect:call:" + form["CallSid"]))
    return Response(TWIML, mimetype="text/xml")


@app.post("/twilio/voice/incoming")
def incoming():
    form = signed_form()
    if form is None:
        return Response("forbidden", status=403)
    caller = phonenumbers.parse(form["From"], "RU")
    kind = phonenumbers.number_type(caller)
    e164 = phonenumbers.format_number(caller, phonenumbers.PhoneNumberFormat.E164)
    state = json.dumps({"call_sid": form["CallSid"], "caller": e164, "type": int(kind), "step": "main_menu"})
    pipe = store.pipeline(transaction=False)
    pipe.set("floor:call:" + form["CallSid"], state, ex=3600)
    pipe.rpush("floor:events", state)
    pipe.execute()
    return Response(GATHER, mimetype="text/xml")


@app.get("/healthz")
def healthz():
    return "ok"
"""


def post(port: int, path: str, params: dict[str, str]) -> str:
    body, headers = signed(path, params)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, body=body, headers=headers)
    answer = conn.getresponse()
    text = answer.read().decode()
    conn.close()
    if answer.status != 200:
        raise RuntimeError(f"{path} answered {answer.status}")
    return text


def verbs(document: str) -> list[str]:
    return [element.tag for element in ET.fromstring(document)]


def write_requests(target: Path, requests: list[tuple[str, dict[str, str]]]) -> Path:
    with target.open("w") as out:
        for path, params in requests:
            body, headers = signed(path, params)
            out.write(f"{path}\t{body.decode()}\t{headers['X-Twilio-Signature']}\n")
    return target


def wrk(port: int, requests: Path, connections: int, duration: int) -> dict[str, float]:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(LUA),
        f"http://127.0.0.1:{port}", "--", str(requests),
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    return {
        "rps": figures["requests"] / (figures["duration_us"] / 1e6),
        "p50_ms": figures["p50_us"] / 1000,
        "p90_ms": figures["p90_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "requests": figures["requests"],
        "errors": figures["non_2xx"] + figures["socket_errors"],
    }


def new_sid() -> str:
    return "CA" + secrets.token_hex(16)


def shares(figures: dict[str, dict[str, Any]]) -> None:
    """Each endpoint's req/s as a share of the bare endpoint's (the first), and each gateway
    endpoint's as a share of its floor (the run before it), in one round."""
    bare_rps = next(iter(figures.values()))["rps"]
    floor_rps = None
    for name, endpoint in figures.items():
        endpoint["share_of_bare"] = endpoint["rps"] / bare_rps
        if name.startswith("floor"):
            floor_rps = endpoint["rps"]
        elif floor_rps is not None:
            endpoint["share_of_floor"] = endpoint["rps"] / floor_rps


def medians(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per endpoint, the median of each figure over the rounds (shares are taken within a round,
    then their median: a slow spell in one round does not skew another's ratio)."""
    return {
        name: {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
        for name in rounds[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=8, help="seconds per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes on each side")
    parser.add_argument(
        "--worker-class", help="gunicorn -k on both sides (default: gateway/gunicorn_config.py's, gevent)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="every endpoint this many times, in turn; medians are printed"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench.webhooks needs wrk: install Debian's package wrk (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="deflect-wrk-"))
    (work / "bare.py").write_text(BARE_APP + '\n@app.get("/healthz")\ndef healthz():\n    return "ok"\n')
    (work / "floor.py").write_text(FLOOR_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    env.update(
        DEFLECT_DATA_DIR=str(work / "data"),
        TWILIO_AUTH_TOKEN="0123456789abcdef0123456789abcdef",
        PUBLIC_BASE_URL="https://voice.bench.test",
        DEFLECT_LOG_LEVEL="warning",
        DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{work}/b.db"),
    )
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    embedded = None
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        from gateway.store.redis import EmbeddedRedis

        embedded = EmbeddedRedis(work / "data")
        env["REDIS_URL"] = embedded.url
    extra = ("-k", args.worker_class) if args.worker_class else ()
    processes = []
    rounds: list[dict[str, dict[str, Any]]] = []
    logs = work / "logs"  # the servers' output: its tail is printed when the run fails
    logs.mkdir()
    try:
        bare, bare_port = start_gunicorn("bare:app", env, args.workers, work, extra, logs / "bare.log")
        processes.append(bare)
        gateway, port = start_gunicorn("wsgi:app", env, args.workers, ROOT, extra, logs / "wsgi.log")
        processes.append(gateway)
        floor, floor_port = start_gunicorn("floor:app", env, args.workers, work, extra, logs / "floor.log")
        processes.append(floor)
        callers = ["CA" + secrets.token_hex(16) for _ in range(QUEUED_CALLERS)]
        for sid in callers:  # each caller is in the queue already, on the hold path
            post(port, "/twilio/voice/incoming", {**WAIT_PARAMS, "CallSid": sid})
            post(port, "/twilio/voice/menu/main_menu", {**WAIT_PARAMS, "CallSid": sid, "Digits": "3"})
        waiting = [("/twilio/voice/wait", {**WAIT_PARAMS, "CallSid": sid}) for sid in callers]
        wait_doc = post(port, *waiting[0])
        incoming_doc = post(port, "/twilio/voice/incoming", {**WAIT_PARAMS, "CallSid": new_sid()})
        if "Play" not in verbs(wait_doc) or "Gather" not in verbs(incoming_doc):
            raise RuntimeError(
                f"unexpected documents (hold fallback?): {wait_doc[:200]} {incoming_doc[:200]}"
            )
        wait_requests = write_requests(work / "wait.txt", waiting)
        bare_requests = write_requests(work / "bare.txt", waiting)
        for n in range(args.rounds):  # every endpoint once per round, in turn: a slow spell hits all
            fresh = write_requests(  # new CallSids each round: an incoming call is never a repeat
                work / f"incoming-{n}.txt",
                [("/twilio/voice/incoming", {**WAIT_PARAMS, "CallSid": new_sid()}) for _ in range(30_000)],
            )
            runs = (
                ("bare Flask, fixed TwiML", bare_port, bare_requests),
                ("floor: wait loop's least work", floor_port, wait_requests),
                (f"wait loop ({QUEUED_CALLERS} queued calls, hold path)", port, wait_requests),
                ("floor: incoming call's least work", floor_port, fresh),
                ("incoming call (new CallSid each)", port, fresh),
            )
            figures = {
                name: wrk(target, requests, args.connections, args.duration)
                for name, target, requests in runs
            }
            shares(figures)
            rounds.append(figures)
            print(f"round {n + 1}/{args.rounds} done", file=sys.stderr)
    except BaseException:
        for log in sorted(logs.glob("*.log")):
            print(f"--- {log.name}, last lines:\n{log_tail(log)}", file=sys.stderr)
        raise
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        if embedded is not None:
            embedded.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    results = medians(rounds)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results, args, env)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, env: dict[str, str]) -> None:
    db = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s, median of {args.rounds} rounds; "
        f"gunicorn -c python:gateway.gunicorn_config "
        f"-w {args.workers} -k {args.worker_class or 'gevent'} on both sides; {db}; "
        f"machine: {os.cpu_count()} cores"
    )
    print(
        f"{'endpoint':44} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'of bare':>8} "
        f"{'of floor':>8} {'errors':>7}"
    )
    for name, r in results.items():
        of_floor = f"{r['share_of_floor']:8.0%}" if "share_of_floor" in r else f"{'':8}"
        print(
            f"{name:44} {r['rps']:8.0f} {r['p50_ms']:7.2f} {r['p90_ms']:7.2f} {r['p99_ms']:7.2f} "
            f"{r['share_of_bare']:8.0%} {of_floor} {r['errors']:7.0f}"
        )
    for line in verdict(results):
        print(line)


# Issue 12's targets: each webhook's req/s as a share of the bare endpoint's, and every p99.
TARGETS = {"wait loop": 0.60, "incoming call": 0.40}
P99_TARGET_MS = 10.0


def verdict(results: dict[str, dict[str, Any]]) -> list[str]:
    """Each target, met or not, beside what the floor of that webhook reaches: a target above its
    floor cannot be met by any implementation in this stack on this machine."""
    lines = []
    floor: dict[str, Any] | None = None
    for name, r in results.items():
        if name.startswith("floor"):
            floor = r
            continue
        target = next((t for prefix, t in TARGETS.items() if name.startswith(prefix)), None)
        if target is None or floor is None:
            continue
        met = "met" if r["share_of_bare"] >= target else "NOT met"
        reach = (
            "the floor reaches it"
            if floor["share_of_bare"] >= target
            else "the floor itself does not reach it"
        )
        lines.append(
            f"target {name.split(' (')[0]} >= {target:.0%} of bare: {r['share_of_bare']:.0%}, {met} "
            f"(floor {floor['share_of_bare']:.0%}: {reach})"
        )
    worst = max(results.items(), key=lambda item: item[1]["p99_ms"])
    bare_p99 = next(iter(results.values()))["p99_ms"]
    lines.append(
        f"target p99 < {P99_TARGET_MS:.0f} ms: worst {worst[1]['p99_ms']:.1f} ms ({worst[0]}); "
        f"the bare endpoint's own p99 {bare_p99:.1f} ms"
    )
    return lines


if __name__ == "__main__":
    main()
