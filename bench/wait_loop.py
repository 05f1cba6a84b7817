"""Load benchmark: the wait loop (Twilio's waitUrl, requested again and again by every queued caller) and
the incoming-call webhook, over real HTTP against gunicorn (gateway/gunicorn_config.py, as in
production), next to a bare Flask endpoint that returns a fixed TwiML document: the ceiling for this
machine, server and client.

    python -m bench.wait_loop [--requests 3000] [--concurrency 8] [--workers 2]

Numbers come from a bounded number of requests to 127.0.0.1 only; the script stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "0123456789abcdef0123456789abcdef"
BASE = "https://voice.bench.test"
# What Twilio posts to the waitUrl of a caller in the queue (the CallSid is added per caller).
WAIT_PARAMS = {
    "QueueSid": "QU" + "0" * 32,
    "QueuePosition": "2",
    "CurrentQueueSize": "5",
    "QueueTime": "10",
    "AvgQueueTime": "120",
    "AccountSid": "AC" + "0" * 32,
    "From": "+79161234567",
    "To": "+74952223344",
}
BARE_APP = """
from flask import Flask, Response
app = Flask(__name__)
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Play loop="1">http://x/m.mp3</Play></Response>'
@app.post("/twilio/voice/wait")
def wait():
    return Response(TWIML, mimetype="text/xml")
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    module: str,
    env: dict[str, str],
    workers: int,
    chdir: Path,
    extra: tuple[str, ...] = (),
    log_path: Path | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """A gunicorn serving `module`, once it answers /healthz. Its output goes to `log_path` (kept,
    for `log_tail` when something fails later), else to a temporary file removed once it started:
    either way a server that does not start says why."""
    port = free_port()
    log = (
        log_path.open("wb")
        if log_path is not None
        else tempfile.NamedTemporaryFile(prefix="deflect-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",  # the configuration production runs (gevent workers)
            "python:gateway.gunicorn_config",
            "--chdir",
            str(chdir),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            *extra,
            module,
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    log.close()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                return process, port
            except OSError:
                time.sleep(0.1)
        process.kill()
        process.wait()
        raise RuntimeError(f"gunicorn {module} did not start on port {port}:\n" + log_tail(Path(log.name)))
    finally:
        if log_path is None:  # a running server keeps writing to it, unlinked
            Path(log.name).unlink(missing_ok=True)


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def signed(path: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, params)
    return urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }


def load(port: int, requests_total: int, concurrency: int, make_request) -> dict[str, float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_thread = requests_total // concurrency

    def worker(n: int) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        for i in range(per_thread):
            path, body, headers = make_request(n, i)
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deflect-bench-"))
    (work / "bare.py").write_text(BARE_APP + '\n@app.get("/healthz")\ndef healthz():\n    return "ok"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    env.update(
        DEFLECT_DATA_DIR=str(work / "data"),
        TWILIO_AUTH_TOKEN=TOKEN,
        PUBLIC_BASE_URL=BASE,
        DEFLECT_LOG_LEVEL="warning",
        DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{work}/b.db"),
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    embedded = None
    if "REDIS_URL" not in env:
        from gateway.store.redis import EmbeddedRedis

        embedded = EmbeddedRedis(work / "data")
        env["REDIS_URL"] = embedded.url
    results = {}
    bare, bare_port = start_gunicorn("bare:app", env, args.workers, work)
    gateway, port = start_gunicorn("wsgi:app", env, args.workers, ROOT)
    try:
        wait_body = WAIT_PARAMS
        calls = ["CA" + secrets.token_hex(16) for _ in range(args.concurrency * 4)]
        for sid in calls:  # each simulated caller is in the queue already
            for path, extra in (
                ("/twilio/voice/incoming", {}),
                ("/twilio/voice/menu/main_menu", {"Digits": "3"}),
            ):
                body, headers = signed(path, {**wait_body, "CallSid": sid, **extra})
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", path, body=body, headers=headers)
                conn.getresponse().read()

        def wait_request(n: int, i: int) -> tuple[str, bytes, dict[str, str]]:
            body, headers = signed(
                "/twilio/voice/wait", {**wait_body, "CallSid": calls[(n + i) % len(calls)]}
            )
            return "/twilio/voice/wait", body, headers

        def incoming_request(n: int, i: int) -> tuple[str, bytes, dict[str, str]]:
            body, headers = signed(
                "/twilio/voice/incoming", {**wait_body, "CallSid": "CA" + secrets.token_hex(16)}
            )
            return "/twilio/voice/incoming", body, headers

        results["bare Flask (ceiling)"] = load(bare_port, args.requests, args.concurrency, wait_request)
        results["wait loop /twilio/voice/wait"] = load(port, args.requests, args.concurrency, wait_request)
        results["incoming call /twilio/voice/incoming"] = load(
            port, args.requests // 3, args.concurrency, incoming_request
        )
    finally:
        for process in (bare, gateway):
            process.terminate()
            process.wait(timeout=10)
        if embedded is not None:
            embedded.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    db = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    print(
        f"gunicorn -c python:gateway.gunicorn_config -w {args.workers} (gevent), "
        f"{args.concurrency} concurrent keep-alive clients, {db}, "
        f"Redis {'external' if embedded is None else 'embedded'}; machine: {os.cpu_count()} cores"
    )
    print(f"{'endpoint':40} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(
            f"{name:40} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['errors']:7.0f}"
        )


if __name__ == "__main__":
    main()
