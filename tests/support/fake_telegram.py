"""A local fake of Telegram's Bot API (only `sendMessage`), so tests send real HTTP requests and read
what the bot said. Point `DEFLECT_TELEGRAM_API_BASE_URL` at `FakeTelegram.url`.

    with FakeTelegram(token="123:abc") as telegram:
        ...
        assert telegram.sent[0]["text"] == "..."
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")


class FakeTelegram:
    """Records each sendMessage body in `sent`; a wrong token gets 401, a chat in `unknown_chats`
    gets 400 "chat not found", as the real API answers."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.sent: list[dict[str, Any]] = []
        self.unknown_chats: set[int] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def answer(self, token: str, method: str, body: Any) -> tuple[int, dict[str, Any]]:
        """The Bot API's answer to one call."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method != "sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if not isinstance(body, dict) or "chat_id" not in body or not body.get("text"):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        if body["chat_id"] in self.unknown_chats:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        with self._lock:
            self.sent.append(body)
            message_id = len(self.sent)
        chat = {"id": body["chat_id"], "type": "private"}
        return 200, {
            "ok": True,
            "result": {"message_id": message_id, "chat": chat, "text": body["text"], "date": 1764000000},
        }


def _handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            match = _PATH.match(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
            if match is None:
                status, answer = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            else:
                status, answer = fake.answer(match.group("token"), match.group("method"), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
            pass  # quiet test output

    return Handler
