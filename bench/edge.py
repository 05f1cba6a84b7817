"""The HTTP edge under abuse, over real HTTP against gunicorn with the gateway's configuration
(`gateway/gunicorn_config.py`):

1. big bodies: how long an unsigned 32 MB form (8 M fields), the same with a made-up signature, and a
   chunked 160 MB body take to be refused, how much of them was sent first, and what the refusing
   worker spent (CPU seconds, peak memory);
2. slow clients: N connections that send a request head announcing a 100 kB body and then nothing,
   held open while `/healthz` is asked, for each worker class (sync, gthread, gevent).

    python -m bench.edge [--workers 2] [--slow 50] [--classes sync,gthread,gevent]

Traffic goes to 127.0.0.1 only, every wait is bounded, and the script stops by itself.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.store.db import Database  # noqa: E402
from tests.support.prism import free_port  # noqa: E402
from tests.support.servers import RedisServer  # noqa: E402

MB = 1024 * 1024
FORM = "application/x-www-form-urlencoded"
HEALTHZ_TIMEOUT = 12.0


def start_gunicorn(
    env: dict[str, str],
    worker_class: str,
    workers: int,
    *,
    options: Sequence[str] = ("--log-level", "error"),
    output: IO[bytes] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn with the gateway's configuration on a free loopback port, once /healthz answers;
    its stdout and stderr go to `output` (default: nowhere)."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:gateway.gunicorn_config", "--chdir", str(ROOT),
        "-w", str(workers), "-b", f"127.0.0.1:{port}", "-k", worker_class, *options, "wsgi:app",
    ]  # fmt: skip
    if worker_class == "gthread":
        command[-1:-1] = ["--threads", "8"]
    sink = output if output is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if healthz(port, 1.0) is not None:
            return process, port
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"gunicorn -k {worker_class} did not start")


def healthz(port: int, timeout: float) -> float | None:
    """Seconds until /healthz answered 200, or None."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return None
    return time.monotonic() - started if head.startswith(b"HTTP/1.1 200") else None


def workers_of(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def refuse(port: int, head: bytes, body: Any, limit_seconds: float = 60) -> dict[str, Any]:
    """Send `head`, then `body` (an iterator of chunks) until the server answers; the answer's status,
    the seconds it took and the bytes of body sent by then."""
    sent = 0
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        pending = b""
        answer = b""
        while time.monotonic() - started < limit_seconds:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                try:
                    answer = sock.recv(256)
                except OSError:
                    answer = b"(reset)"
                break
            if writable:
                if not pending:
                    pending = next(body, b"")
                if pending:
                    try:
                        n = sock.send(pending)
                    except OSError:
                        answer = b"(reset)"
                        break
                    sent += n
                    pending = pending[n:]
        status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(no answer)"
    return {"status": status, "seconds": time.monotonic() - started, "sent_mb": sent / MB}


def form_chunks(total: int) -> Any:
    piece = b"a=1&" * (MB // 4)  # 8 M fields in 32 MB
    for _ in range(total // len(piece)):
        yield piece


def chunked(total: int) -> Any:
    piece = b"a=1&" * (MB // 4)
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    for _ in range(total // len(piece)):
        yield frame
    yield b"0\r\n\r\n"


def big_bodies(port: int, master: int) -> list[tuple[str, dict[str, Any]]]:
    head = "POST /twilio/voice/incoming HTTP/1.1\r\nHost: voice.bench.test\r\nContent-Type: " + FORM + "\r\n"
    cases = [
        ("unsigned 32 MB form", head + f"Content-Length: {32 * MB}\r\n\r\n", form_chunks(32 * MB)),
        (
            "32 MB form, made-up signature",
            head + f"X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\nContent-Length: {32 * MB}\r\n\r\n",
            form_chunks(32 * MB),
        ),
        (
            "chunked 160 MB, made-up signature",
            head + "X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunked(160 * MB),
        ),
    ]
    results = []
    for name, request_head, body in cases:
        before = {pid: cpu_seconds(pid) for pid in workers_of(master)}
        result = refuse(port, request_head.encode(), body)
        time.sleep(0.3)
        after = workers_of(master)
        result["cpu_s"] = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in after)
        result["peak_rss_mb"] = max(peak_rss_mb(pid) for pid in after)
        results.append((name, result))
    return results


def slow_clients(port: int, count: int) -> dict[str, Any]:
    """Hold `count` connections that announced a body and send nothing more; ask /healthz meanwhile."""
    paths = ["/twilio/voice/incoming", "/viber/webhook", "/l/" + "A" * 22]
    held = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        path = paths[i % len(paths)]
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: voice.bench.test\r\nContent-Type: {FORM}\r\n"
            "X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\nX-Viber-Content-Signature: 00\r\n"
            "Content-Length: 100000\r\n\r\n".encode()
        )
        held.append(sock)
    time.sleep(1.0)  # let the server take them in
    latencies = [healthz(port, HEALTHZ_TIMEOUT) for _ in range(5)]
    for sock in held:
        sock.close()
    answered = [s for s in latencies if s is not None]
    return {
        "answered": f"{len(answered)}/{len(latencies)}",
        "median_ms": statistics.median(answered) * 1000 if answered else None,
        "max_ms": max(answered) * 1000 if answered else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slow", type=int, default=50, help="slow connections held open")
    parser.add_argument("--classes", default="sync,gthread,gevent")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deflect-bench-edge-"))
    redis = RedisServer(work / "redis").start()
    database_url = f"sqlite:///{work / 'edge.sqlite3'}"
    Database(database_url).upgrade()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        DEFLECT_DATA_DIR=str(work / "data"),
        PUBLIC_BASE_URL="https://voice.bench.test",
        TWILIO_AUTH_TOKEN="0123456789abcdef0123456789abcdef",
        DEFLECT_VIBER_AUTH_TOKEN="bench-viber-token",
        DEFLECT_LOG_LEVEL="error",
    )
    try:
        process, port = start_gunicorn(env, "gevent", args.workers)
        try:
            refused = big_bodies(port, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=20)
        slow = {}
        for worker_class in args.classes.split(","):
            process, port = start_gunicorn(env, worker_class, args.workers)
            try:
                slow[worker_class] = slow_clients(port, args.slow)
            finally:
                process.kill()
                process.wait(timeout=20)
    finally:
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"gunicorn -c python:gateway.gunicorn_config -w {args.workers}; machine: {os.cpu_count()} cores")
    print("\n1. big bodies to /twilio/voice/incoming (gevent workers)")
    print(f"{'request':36} {'answer':28} {'seconds':>8} {'sent MB':>8} {'CPU s':>6} {'peak MB':>8}")
    for name, r in refused:
        print(
            f"{name:36} {r['status'][:28]:28} {r['seconds']:8.3f} {r['sent_mb']:8.2f} {r['cpu_s']:6.2f} "
            f"{r['peak_rss_mb']:8.0f}"
        )
    print(f"\n2. /healthz while {args.slow} connections announced a 100 kB body and sent nothing")
    print(f"{'worker class':14} {'answered':>9} {'median ms':>10} {'max ms':>8}")
    for worker_class, r in slow.items():
        median = f"{r['median_ms']:.1f}" if r["median_ms"] is not None else "-"
        worst = f"{r['max_ms']:.1f}" if r["max_ms"] is not None else "-"
        print(f"{worker_class:14} {r['answered']:>9} {median:>10} {worst:>8}")


if __name__ == "__main__":
    main()
