"""The Redis failover of issue 12, run once and counted: two gateway instances behind a round-robin
balancer, two job workers, one scheduler, one PostgreSQL database, a Redis primary with one replica
and three sentinels, all on loopback; calls keep coming while the primary is killed (SIGKILL) and
Sentinel promotes the replica. Prints what the multi-node test asserts (`tests/multinode`).

    python -m bench.failover [--database-url postgresql://postgres@127.0.0.1:5432/test] [--calls 48]

The database is emptied first (it must be one the run may own). Needs Debian's redis-server.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from tests.support.failover import CALLS, THREADS, Scenario
from tests.support.multinode import reset_database


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL database this run may empty (default: TEST_DATABASE_URL, else the local `test`)",
    )
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) and say where")
    args = parser.parse_args()
    reset_database(args.database_url)
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    with Scenario(work, args.database_url, calls=args.calls, threads=args.threads) as scenario:
        up = time.monotonic() - began
        outcome = scenario.run(log=lambda line: print(f"  {line}", flush=True))
    counts = outcome.counts() | {
        "start-up seconds": round(up, 1),
        "wall seconds": round(time.monotonic() - began, 1),
    }
    if args.json:
        print(json.dumps(counts, indent=2))
    else:
        width = max(len(name) for name in counts)
        for name, value in counts.items():
            print(f"{name:<{width}}  {value}")
    if args.keep:
        print(f"logs in {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
