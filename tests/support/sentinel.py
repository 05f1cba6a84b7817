"""Redis with Sentinel on loopback, as several nodes run it: a primary, one replica and three sentinels,
each a `redis-server` process of Debian's package (`redis-server --sentinel` for the sentinels). Tuned
to fail over in seconds: a primary that does not answer for 1 s is down, and two sentinels agree.

    with RedisSentinels(workdir) as redis:
        redis.sentinels          # the REDIS_SENTINELS value: "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        redis.kill_primary()     # SIGKILL (pause_replica() first: its last writes die with it)
        redis.wait_for_promotion()
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.support.prism import free_port

MASTER = "deflect"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000
REDIS_SERVER = "/usr/bin/redis-server"


class MissingRedisServer(RuntimeError):
    """Debian's redis-server is not installed (the sentinels need it)."""


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or (REDIS_SERVER if Path(REDIS_SERVER).exists() else None)
    if found is None:
        raise MissingRedisServer(
            "the multi-node tests need Debian's redis-server for the primary, the replica and the "
            "sentinels: apt-get install redis-server"
        )
    return found


class Node:
    """One redis-server process (a data node or a sentinel), its config file and log in `workdir`."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        config: list[str],
        *,
        sentinel: bool = False,
        binary: str | None = None,
    ) -> None:
        self.workdir = workdir / name
        self.name = name
        self.port = free_port()
        self.sentinel = sentinel
        self.binary = binary  # default: Debian's redis-server
        self.config = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "daemonize no",
            f"dir {self.workdir}",
            f"logfile {self.workdir / 'redis.log'}",
            *config,
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Node:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "redis.conf"  # a sentinel rewrites its own file: it must be writable
        conf.write_text("\n".join(self.config) + "\n")
        command = [
            self.binary or redis_server_binary(),
            str(conf),
            *(["--sentinel"] if self.sentinel else []),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_until(lambda: self.client().ping(), f"{self.name} to answer")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_until(self, check: object, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():  # type: ignore[operator]
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what} (log: {self.workdir / 'redis.log'})")
            time.sleep(0.1)


def watching(workdir: Path, primary_port: int, *, binary: str | None = None) -> Node:
    """One sentinel watching a primary on its own (quorum 1): enough to find it, not to fail over."""
    config = [f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 1"]
    return Node(workdir, "sentinel", config, sentinel=True, binary=binary)


class RedisSentinels:
    """A primary, its replica and three sentinels watching them (quorum 2)."""

    def __init__(self, workdir: Path) -> None:
        data = ["save ''", "appendonly no", "repl-diskless-sync-delay 0"]
        self.primary = Node(workdir, "primary", data)
        self.replica = Node(workdir, "replica", [*data, f"replicaof 127.0.0.1 {self.primary.port}"])
        watch = [
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2",
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {MASTER} 1",
        ]
        self.watchers = [Node(workdir, f"sentinel-{n}", watch, sentinel=True) for n in (1, 2, 3)]

    @property
    def sentinels(self) -> str:
        """The REDIS_SENTINELS value."""
        return ",".join(node.address for node in self.watchers)

    def start(self) -> RedisSentinels:
        self.primary.start()
        self.replica.start()
        self.replica.wait_until(
            lambda: self.replica.client().info("replication").get("master_link_status") == "up",
            "the replica to sync",
        )
        for node in self.watchers:
            node.start()
        for node in self.watchers:  # each knows the replica and the two other sentinels: ready to fail over
            node.wait_until(lambda n=node: self._sees_everyone(n), f"{node.name} to see the others", 30)
        return self

    @staticmethod
    def _sees_everyone(node: Node) -> bool:
        state = node.client().sentinel_master(MASTER)
        return int(state["num-other-sentinels"]) == 2 and int(state["num-slaves"]) == 1

    def master_port(self) -> set[int]:
        """The primary's port as each sentinel names it now (one value once they agree)."""
        ports = set()
        for node in self.watchers:
            host_port = node.client().sentinel_get_master_addr_by_name(MASTER)
            ports.add(int(host_port[1]) if host_port else 0)
        return ports

    def kill_primary(self) -> None:
        self.primary.kill()

    def pause_replica(self) -> None:
        """Stop the replica (SIGSTOP) and cut its replication link: the primary's writes from now on
        never reach it (a stopped process alone would still get them, in its socket buffer), as behind a
        replica that lags. It cannot link again before `resume_replica`."""
        assert self.replica.process is not None
        self.replica.process.send_signal(signal.SIGSTOP)
        self.primary.client().execute_command("CLIENT", "KILL", "TYPE", "replica")

    def resume_replica(self) -> None:
        assert self.replica.process is not None
        self.replica.process.send_signal(signal.SIGCONT)

    def pause_sentinels(self) -> None:
        """Stop the sentinels (SIGSTOP): nobody can learn where the primary is until `resume_sentinels`."""
        for node in self.watchers:
            assert node.process is not None
            node.process.send_signal(signal.SIGSTOP)

    def resume_sentinels(self) -> None:
        for node in self.watchers:
            assert node.process is not None
            node.process.send_signal(signal.SIGCONT)

    def wait_for_promotion(self, timeout: float = 30) -> None:
        """Until every sentinel names the replica and the replica acts as the primary."""

        def promoted() -> bool:
            role = self.replica.client().info("replication").get("role")
            return self.master_port() == {self.replica.port} and role == "master"

        self.replica.wait_until(promoted, "the sentinels to promote the replica", timeout)

    def stop(self) -> None:
        for node in [*self.watchers, self.replica, self.primary]:
            node.stop()

    def __enter__(self) -> RedisSentinels:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
