"""The admin console's server time per page over a scripted session, under gunicorn as production runs
it (gateway/gunicorn_config.py) on SQLite and a private Redis: sign in, the front page, flows (list,
item, editor, a draft saved, diff, diagram), texts, the test-call panel, operations, audit, users.

    python -m bench.console_pages [--rounds 20] [--json]

"Server time" is what each response's Server-Timing header says the console spent on it (from the
first line of the request's handling to the response), so the client's own cost is not in it. Loopback
only; the script stops by itself.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import requests

from bench import edge
from bench.content_propagation import private_gateway
from bench.production import stop
from gateway.clock import SystemClock
from gateway.store.content import ContentStore
from gateway.users.service import Users

EMAIL, PASSWORD = "bench@example.com", "bench password, long enough"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMING = re.compile(r"app;dur=([0-9.]+)")
GREETING = "Thank you for calling customer support."


class Browser:
    """requests with the console's cookie sent over loopback http (it is Secure: requests would keep
    it for https only, as a browser does for any host but localhost)."""

    def __init__(self, port: int) -> None:
        self.root = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        self.cookie = ""
        self.token = ""
        self.times: dict[str, list[float]] = defaultdict(list)

    def go(self, name: str, method: str, path: str, form: dict[str, str] | None = None) -> requests.Response:
        data = {**(form or {}), "csrf_token": self.token} if method == "POST" else None
        answer = self.http.request(
            method, self.root + path, data=data, headers={"Cookie": self.cookie}, allow_redirects=False
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"{name}: {method} {path} answered {answer.status_code}")
        if "deflect_admin=" in answer.headers.get("Set-Cookie", ""):
            self.cookie = answer.headers["Set-Cookie"].split(";")[0]
        found = TOKEN.search(answer.text)
        if found:
            self.token = found.group(1)
        timing = TIMING.search(answer.headers.get("Server-Timing", ""))
        if timing:
            self.times[name].append(float(timing.group(1)))
        return answer


def session(browser: Browser, first: bool) -> None:
    b = browser
    if first:
        b.go("sign-in page", "GET", "/admin/sign-in")
        b.go("sign in (argon2id)", "POST", "/admin/sign-in", {"email": EMAIL, "password": PASSWORD})
    b.go("front page", "GET", "/admin/")
    b.go("flows list", "GET", "/admin/content/")
    b.go("flow page", "GET", "/admin/content/flow/en-support")
    editor = b.go("flow editor", "GET", "/admin/content/flow/en-support/edit")
    text = re.search(r'name="file:en_support.yaml"[^>]*>\n?(.*?)</textarea>', editor.text, re.S)
    assert text is not None
    source = html.unescape(text.group(1))
    b.go(
        "save draft (validated)",
        "POST",
        "/admin/content/flow/en-support/edit",
        {"file:en_support.yaml": source},
    )
    b.go("diff live/draft", "GET", "/admin/content/flow/en-support/diff?old=live&new=draft")
    b.go("flow diagram", "GET", "/admin/content/flow/en-support/diagram")
    b.go("texts list", "GET", "/admin/texts/")
    b.go("SMS texts page", "GET", "/admin/content/sms/ru-RU")
    b.go("test-call panel", "GET", "/admin/try/")
    call = {"caller": "+79161234567", "called": "+74952223344", "day": "2026-11-24", "time": "12:00"}
    call |= {"position": "3", "avg_wait": "300", "version": "live", "action": "call"}
    first = b.go("test call: first press", "POST", "/admin/try/", call)
    script = re.search(r'name="script" value="([^"]*)"', first.text)
    typed = re.search(r'name="typed" value="([^"]*)"', first.text)
    assert script is not None and typed is not None
    b.go(
        "test call: key 1 (replayed)",
        "POST",
        "/admin/try/",
        {
            **call,
            "action": "",
            "key": "1",
            "script": html.unescape(script.group(1)),
            "typed": html.unescape(typed.group(1)),
        },
    )
    b.go("operations", "GET", "/admin/operations/")
    b.go("outbox", "GET", "/admin/operations/outbox")
    b.go("audit log", "GET", "/admin/audit/")
    b.go("audit CSV", "GET", "/admin/audit/export.csv")
    b.go("users", "GET", "/admin/users/")
    b.go("chats (agents)", "GET", "/admin/agents/")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="times the scripted session is walked")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with ExitStack() as exits, tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        work = Path(tmp)
        env, database = private_gateway(work, exits)
        Users(database, None, ContentStore(database), SystemClock()).add(
            EMAIL, "admin", PASSWORD, actor="bench"
        )
        output = exits.enter_context((work / "gateway.log").open("ab"))
        gunicorn, port = edge.start_gunicorn(env, "gevent", 2, output=output)
        exits.callback(stop, gunicorn)
        browser = Browser(port)
        for round_ in range(args.rounds):
            session(browser, first=round_ == 0)
    figures = {
        name: {"median_ms": statistics.median(v), "p95_ms": percentile(v, 0.95), "requests": len(v)}
        for name, v in browser.times.items()
    }
    every = [t for v in browser.times.values() for t in v]
    total = {"median_ms": statistics.median(every), "p95_ms": percentile(every, 0.95), "requests": len(every)}
    if args.json:
        print(json.dumps({"pages": figures, "all": total}, indent=2))
        return
    print(
        f"gunicorn -k gevent -w 2, SQLite, {args.rounds} walks of the scripted session; server time per page"
    )
    print(f"{'page':28} {'median ms':>10} {'p95 ms':>8} {'n':>4}")
    for name, f in figures.items():
        print(f"{name:28} {f['median_ms']:10.1f} {f['p95_ms']:8.1f} {f['requests']:4}")
    print(f"{'every page':28} {total['median_ms']:10.1f} {total['p95_ms']:8.1f} {total['requests']:4}")


if __name__ == "__main__":
    main()
