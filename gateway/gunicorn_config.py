"""The web server's configuration, the same for `deflect serve` and for production:

    gunicorn -c python:gateway.gunicorn_config -w 4 -b 127.0.0.1:8000 wsgi:app

(command-line options override what is here: the bind address and the number of processes are the
installation's; the rest is the gateway's.)

Why gevent workers. gunicorn's default `sync` worker serves one connection per process from its first
byte to its last: two clients that open a connection and send nothing (or announce a body and stall)
hold two processes until the worker timeout kills them, and `/healthz` waits behind them. `gthread`
moves idle connections back to its poller (gunicorn 27), but a client that has sent part of its
request keeps a thread until it finishes, and a handful of threads is a handful of slow clients.
With `gevent` a connection is a greenlet: a slow or idle client costs a socket and a few kilobytes,
up to `worker_connections` of them per process, and the request head has `keepalive` seconds to
arrive. The gateway's own work is waiting on Redis, the database and Twilio, which gevent's patched
sockets turn into cooperative waits: redis-py and requests use Python sockets, psycopg 3 (3.1.14 on)
waits with gevent when the process is patched, SQLAlchemy's pool and the flow registry's lock use the
patched threading. `bench/edge.py` measures the three worker classes under slow clients.

Taking turns. A gevent worker switches greenlets only when one would block. On a kept-alive
connection whose next request is already in the socket when the last answer is written (a busy proxy,
a load generator), the greenlet reads it without blocking and serves it, again and again, while the
other connections of that process wait: on a bare Flask endpoint at 16 connections that was p99 150 ms.
`post_request` yields once after every request, so the connections of a process take turns
(`bench/webhooks.py`: p99 150 -> 19 ms and 3,350 -> 5,140 req/s on that endpoint; docs/production.md).

This is not a replacement for the reverse proxy that terminates TLS in production (README, "Running
in production"): it keeps the process answering when a proxy is absent (`deflect serve`) or lets a
slow client through unbuffered.

Metrics. Each worker counts into files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multi-process
mode), so a scrape of `/metrics`, whichever worker answers it, sums them all. The master prepares the
directory when it starts (`on_starting`), before any worker imports prometheus_client: the one given
in PROMETHEUS_MULTIPROC_DIR, emptied of an earlier run's files, or a new private one, removed when
the master exits. A worker's counts stay after it exits (counters never go down); `child_exit` drops
what only a live process may report. Do not run with `--preload`: the app, and prometheus_client
with it, would be imported before the directory is there.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

worker_class = "gevent"
# Simultaneous connections per process, idle and slow ones included.
worker_connections = 1000
# Seconds a kept-alive connection may stay idle and, with gevent, the time a client has to send the
# request line and headers: a client that trickles its head is dropped after this.
keepalive = 10
# A process that does not report for this long (a hung hub) is killed and replaced.
timeout = 30
graceful_timeout = 10
# The request head: gunicorn's limits made explicit, with fewer headers (gunicorn allows 100; a
# browser sends about 15, Twilio about 10, a proxy adds a few X-Forwarded-*).
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# gunicorn 25.1+ opens a control socket for `gunicornc` at one path per user ($HOME/.gunicorn): the
# gateway does not use it, and two gunicorns on one host (`deflect serve` beside a test run) would take
# each other's.
control_socket_disable = True


# Set by on_starting when the master made the metrics directory itself (and removes it on exit).
_own_metrics_dir: str | None = None


def on_starting(server: Any) -> None:
    """The master starts: a fresh directory for the workers' Prometheus counts."""
    global _own_metrics_dir
    if "prometheus_client" in sys.modules:
        server.log.warning(
            "prometheus_client was imported before the workers (--preload?): /metrics "
            "reports only the worker that answers the scrape"
        )
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # an earlier run's counts, under pids that may be reused
            stale.unlink()
    else:
        _own_metrics_dir = tempfile.mkdtemp(prefix="deflect-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its counts stay, its live-only figures go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """A request is answered: under gevent, let the process's other connections have their turn."""
    if _cooperative(worker):
        import gevent

        gevent.sleep(0)


def _cooperative(worker: Any) -> bool:
    """Whether `worker` is one of gunicorn's gevent workers (a sync or gthread worker never yields)."""
    return type(worker).__module__ == "gunicorn.workers.ggevent"


def on_exit(server: Any) -> None:
    """The master exits: the metrics directory it made goes with it."""
    global _own_metrics_dir
    if _own_metrics_dir is not None:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
        _own_metrics_dir = None
