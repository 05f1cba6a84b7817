"""Benchmark: time from the caller's accepting key press (consent "1") to Twilio's acceptance of the SMS,
with a real RQ worker process and Stoplight Prism serving Twilio's OpenAPI description as "Twilio".

    python -m bench.accept_latency [--calls 50]

Each call is driven through the signed webhooks to the consent question; the clock starts when the
consent POST is sent and stops when the outbox row holds Twilio's SID (what the caller's "sending" poll
waits for). Prism and the spec come from the test cache (.cache/, filled on first use).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.clock import ManualClock  # noqa: E402
from tests.support import prism  # noqa: E402
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN, Call  # noqa: E402
from tests.support.twilio_proxy import TwilioProxy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deflect-accept-"))
    server = prism.start("twilio_api_v2010.json", work, f"/2010-04-01/Accounts/{ACCOUNT_SID}/Queues.json")
    # Prism answers every create with the spec's one example SID; the proxy gives each message its own,
    # as Twilio does (it adds one loopback hop).
    proxy = TwilioProxy(server.url).start()
    from gateway.app import create_app
    from gateway.deflection.outbox import ACCEPTED_STATUSES, status_of
    from gateway.store.redis import EmbeddedRedis

    redis = EmbeddedRedis(work / "data")
    config = {
        "DEFLECT_DATA_DIR": str(work / "data"),
        "DATABASE_URL": f"sqlite:///{work}/a.db",
        "REDIS_URL": redis.url,
        "PUBLIC_BASE_URL": "https://voice.example.test",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": proxy.url,
        "TWILIO_SMS_FROM": "+77012345678",
        "DEFLECT_WHATSAPP_NUMBER": "+77001234567",
        "DEFLECT_LOG_LEVEL": "warning",
        "DEFLECT_SENDER_MPS": "100",
        "DEFLECT_SMS_PER_MINUTE": "10000",
        "DEFLECT_RETEXT_HOURS": "0",
        "DEFLECT_SMS_PER_PREFIX_HOUR": "10000",
        # Every benchmark caller is in one prefix: the SMS pumping guards would (rightly) stop them.
        "DEFLECT_SMS_PER_NDC_HOUR": "0",
        "DEFLECT_SMS_PER_COUNTRY_HOUR": "0",
        "DEFLECT_SMS_PER_COUNTRY_DAY": "0",
        "DEFLECT_TRIP_PER_PREFIX": "0",
        "DEFLECT_TRIP_PER_NDC": "0",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))} | config
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The calls' time in queue is simulated; the worker process sends on the machine's clock.
    clock = ManualClock(time.time())
    app = create_app(config, environ={}, clock=clock)
    services = app.extensions["deflect"]
    durations = []
    try:
        time.sleep(2)  # the worker connects
        for n in range(args.calls):
            call = Call(app.test_client(), caller=f"+7916{n:07d}")
            greeting = call.incoming()
            call.press(call.press(greeting, "1"), "2")
            clock.advance(50)
            consent = call.press(call.wait(), "1")
            started = time.perf_counter()
            sending = call.press(consent, "1")
            outbox_id = services.voice.states.load(call.call_sid).deflection.outbox_id
            while status_of(services.database, outbox_id)[0] not in ACCEPTED_STATUSES:
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"outbox {outbox_id} not accepted in 30 s")
                time.sleep(0.002)
            durations.append(time.perf_counter() - started)
            assert sending.status == 200
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        proxy.stop()
        server.stop()
        services.close()
        redis.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    durations.sort()
    print(
        f"{len(durations)} accepted offers, RQ worker process, Prism on Twilio's 2010-04-01 spec "
        "(behind the SID-issuing test proxy), SQLite"
    )
    print(
        f"key press -> Twilio accepted: median {statistics.median(durations) * 1000:.0f} ms, "
        f"p95 {durations[int(len(durations) * 0.95) - 1] * 1000:.0f} ms, max {durations[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
