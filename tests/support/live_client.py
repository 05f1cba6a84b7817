"""The Flask test client's `post` and `get` over real HTTP, so the helpers that play calls and messages
(`calls.Call`, `messages.post_signed`) drive a gateway running in its own processes (gunicorn).

Requests go to 127.0.0.1:<port>; signatures are still made for the public URL (`base_url`, the URL
Twilio called), as if a reverse proxy stood in between.
"""

from __future__ import annotations

from typing import Any

import requests


class LiveResponse:
    """A `requests` response with the parts of Flask's test response that the helpers read."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code, self.headers, self.text = response.status_code, response.headers, response.text
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()

    def get_data(self, as_text: bool = False) -> Any:
        return self.text if as_text else self.text.encode()


class LiveClient:
    def __init__(self, port: int, timeout: float = 30) -> None:
        self.root, self.timeout, self.session = f"http://127.0.0.1:{port}", timeout, requests.Session()

    def post(self, path: str, *, base_url: str = "", **kwargs: Any) -> LiveResponse:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, *, base_url: str = "", **kwargs: Any) -> LiveResponse:
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> LiveResponse:
        """`kwargs` as `requests` takes them (data, json, files, headers); redirects are not followed."""
        answer = self.session.request(
            method, self.root + path, timeout=self.timeout, allow_redirects=False, **kwargs
        )
        return LiveResponse(answer)

    def close(self) -> None:
        self.session.close()
