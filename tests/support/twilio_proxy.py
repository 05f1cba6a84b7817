"""A recording, fault-injecting HTTP proxy in front of Prism (see `prism.py`), to test what happens
when Twilio or our workers retry: Prism checks every request against Twilio's contract but is
stateless, always answers the same example SID and cannot fail like Twilio does.

    with TwilioProxy(twilio_api.url) as proxy:
        proxy.plan("POST", "/Messages.json", Fault.drop_after_forward(), Fault.error(503))
        ...  # point the twilio client at proxy.url
        assert len(proxy.created_messages()) == 1

- Every request is forwarded to upstream (method, path and query, body, headers but Host and
  hop-by-hop ones) and recorded in `.requests`. `Recorded.query` and `.form` keep the LAST value of a
  repeated key; `.body` is the raw urlencoded text for the rare test that needs all of them.
- A create (POST `.../Messages.json` answered 201) is rewritten like Twilio would answer it: a unique
  `sid`, To/From/Body/MessagingServiceSid from the request, status "queued", `num_segments` computed
  from the body, `date_created` now. It counts in `created_messages()` even if a fault then drops it.
- A list (GET `.../Messages.json`) is forwarded first, so its query is contract-checked (a non-200
  is returned as is); then `messages` becomes the created messages to the `To` query parameter (all
  without one), newest first. DateSent filters and paging are ignored: `next_page_uri` is null.
- `plan()` queues faults per (method, path suffix), each matching request consumes one, FIFO.
- Prism always answers the spec's first example; `Fault.answer_with(...)` forwards (the request is
  still contract-checked) and replaces top-level fields of the answer, e.g. a Lookup's
  `line_type_intelligence` to make a number a landline.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

_SKIP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding"}
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


def num_segments(body: str) -> int:
    """SMS segments as Twilio counts them: GSM-7 (160/153 septets) or else UCS-2 (70/67 units)."""
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in body):
        size, single, multi = len(body) + sum(ch in _GSM7_EXT for ch in body), 160, 153
    else:
        size, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if size <= single else math.ceil(size / multi)


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one matching request instead of a plain pass-through."""

    kind: str  # "error" | "drop_after_forward" | "delay" | "answer_with"
    status: int = 0
    code: int | None = None
    message: str = ""
    seconds: float = 0.0
    fields: dict[str, Any] | None = None

    @classmethod
    def error(cls, status: int, code: int | None = None, message: str = "Twilio error") -> Fault:
        """Answer with Twilio's error JSON without forwarding; no code means Twilio's generic
        `20000 + status` (20429 Too Many Requests, 20500, 20503)."""
        return cls("error", status=status, code=code if code is not None else 20000 + status, message=message)

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }

    @classmethod
    def drop_after_forward(cls) -> Fault:
        """Forward (Twilio accepts, the message exists), then close the connection without answering."""
        return cls("drop_after_forward")

    @classmethod
    def answer_with(cls, **fields: Any) -> Fault:
        """Forward, then answer upstream's JSON with these top-level fields replaced."""
        return cls("answer_with", fields=fields)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep, then forward normally (past the client's timeout, Twilio still gets the request)."""
        return cls("delay", seconds=seconds)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    body: str
    headers: dict[str, str]
    status: int = 0  # upstream's (even if a drop fault hid it from the client), the error fault's, or 502
    response: dict[str, Any] | None = None
    fault: Fault | None = None


class TwilioProxy:
    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.requests: list[Recorded] = []
        self._created: list[dict[str, Any]] = []
        self._plan: list[tuple[str, str, Fault]] = []  # (method, path suffix, fault), FIFO
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def start(self) -> TwilioProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="twilio-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TwilioProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def plan(self, method: str, path_suffix: str, *faults: Fault) -> None:
        with self._lock:
            self._plan.extend((method.upper(), path_suffix, fault) for fault in faults)

    def clear_plan(self) -> None:
        with self._lock:
            self._plan.clear()

    def created_messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(message) for message in self._created]

    def _next_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, (planned_method, suffix, fault) in enumerate(self._plan):
                if planned_method == method and path.endswith(suffix):
                    del self._plan[index]
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        body = raw.decode("utf-8", errors="replace")
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _SKIP_HEADERS}
        urlencoded = "urlencoded" in handler.headers.get("Content-Type", "")
        record = Recorded(
            handler.command,
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            dict(parse_qsl(body, keep_blank_values=True)) if urlencoded else {},
            body,
            headers,
            fault=self._next_fault(handler.command, parts.path),
        )
        with self._lock:
            self.requests.append(record)
        fault = record.fault
        if fault is not None and fault.kind == "error":
            record.status, record.response = fault.status, fault.body()
            return self._reply(handler, fault.status, "application/json", json.dumps(fault.body()).encode())
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        try:
            upstream = requests.request(  # no shared Session: handlers run in parallel threads
                handler.command, self.upstream_url + handler.path, data=raw, headers=headers, timeout=30
            )
        except requests.RequestException as exc:
            record.status = 502
            return self._reply(handler, 502, "text/plain", f"upstream unreachable: {exc}".encode())
        content_type = upstream.headers.get("Content-Type", "application/json")
        record.status, payload = upstream.status_code, upstream.content
        record.response = self._rewrite(record, upstream)
        if fault is not None and fault.kind == "answer_with" and record.response is not None:
            record.response = {**record.response, **(fault.fields or {})}
            payload = json.dumps(record.response).encode()
        if record.response is not None and parts.path.endswith("/Messages.json"):
            payload = json.dumps(record.response).encode()
        if fault is not None and fault.kind == "drop_after_forward":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)  # the client sees the connection reset now
            return
        self._reply(handler, record.status, content_type, payload)

    def _rewrite(self, record: Recorded, upstream: requests.Response) -> dict[str, Any] | None:
        try:
            document = upstream.json()
        except ValueError:
            return None
        if not isinstance(document, dict) or not record.path.endswith("/Messages.json"):
            return document if isinstance(document, dict) else None
        if record.method == "POST" and record.status == 201:
            return self._created_message(document, record.path, record.form)
        if record.method == "GET" and record.status == 200:
            return self._listed(document, record.query.get("To"))
        return document

    def _created_message(self, document: dict[str, Any], path: str, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        account_sid = path.split("/Accounts/")[1].split("/")[0] if "/Accounts/" in path else None
        base = path.removesuffix(".json")
        now = formatdate(usegmt=False).replace("-0000", "+0000")
        message = {  # price, error_code, direction... stay as in the spec's example (null, outbound-api)
            **document,
            "sid": sid,
            "account_sid": account_sid or document.get("account_sid"),
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body", ""),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "status": "queued",
            "num_segments": str(num_segments(form.get("Body", ""))),
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "uri": f"{base}/{sid}.json",
            "subresource_uris": {"media": f"{base}/{sid}/Media.json"},
        }
        with self._lock:
            self._created.append(message)
        return message

    def _listed(self, document: dict[str, Any], to: str | None) -> dict[str, Any]:
        with self._lock:
            messages = [dict(m) for m in reversed(self._created) if to is None or m["to"] == to]
        return {**document, "messages": messages, "next_page_uri": None, "previous_page_uri": None}

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timed out on a delay)
            pass
