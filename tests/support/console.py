"""Driving the admin console as a browser would, through the Flask test client: sign in, open pages,
post forms with the CSRF token the last page carried."""

from __future__ import annotations

import re
from typing import Any

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_HEADER_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


class Console:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.token: str | None = None

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        self._remember(response)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        if csrf and self.token is None:
            self.get("/admin/sign-in")
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.token
        response = self.client.post(path, data=form, **kwargs)
        self._remember(response)
        return response

    def sign_in(self, email: str, password: str = PASSWORD) -> Any:
        self.get("/admin/sign-in")
        return self.post("/admin/sign-in", {"email": email, "password": password})

    def _remember(self, response: Any) -> None:
        if response.mimetype == "text/html":
            text = response.get_data(as_text=True)
            found = _TOKEN.search(text) or _HEADER_TOKEN.search(text)
            if found:
                self.token = found.group(1)


def add_user(app: Any, email: str, role: str, password: str = PASSWORD) -> Any:
    return app.extensions["deflect"].users.add(email, role, password, actor="test")


def signed_in(app: Any, role: str, email: str | None = None) -> Console:
    """A console signed in as a new user with `role`."""
    email = email or f"{role}@example.com"
    add_user(app, email, role)
    console = Console(app.test_client())
    response = console.sign_in(email)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    console.get(response.headers["Location"])  # as a browser would: the new session's CSRF token
    return console
