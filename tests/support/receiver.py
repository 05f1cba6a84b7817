"""A real HTTP endpoint on loopback that records what it receives (a desk or CRM for hand-off tests);
it can be told to fail, or be stopped to play a receiver that is down."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    status: int = 200
    received: list[Received] = field(default_factory=list)
    # Quote fields of the request back in an error answer, as validation errors of many web frameworks
    # do (FastAPI's 422 carries each refused field's "input").
    echo_errors: bool = False

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(Received(dict(self.headers.items()), body))
                payload = json.dumps({"id": f"ticket-{len(receiver.received)}"}).encode()
                if receiver.echo_errors and receiver.status >= 400:
                    sent = json.loads(body or b"{}")
                    answer = {
                        "detail": [
                            {"loc": ["body", name], "msg": "not accepted", "input": sent.get(name)}
                            for name in ("first_message", "context_card_url", "customer_address")
                        ]
                    }
                    payload = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/handoff"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
