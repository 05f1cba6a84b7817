"""The console's two languages. Its texts are data: `i18n/<area>.<language>.json`, one file per area
and language, merged at start (a key in one area's file must not repeat in another's). A text
missing in the chosen language falls back to English, then to its key; a test checks that every key
a template uses exists in both."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import g, request
from flask.wrappers import Request

LANGUAGES = ("en", "ru")
COOKIE = "deflect_admin_lang"
HERE = Path(__file__).parent / "i18n"


@cache
def catalog(language: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(HERE.glob(f"*.{language}.json")):
        texts = json.loads(path.read_text(encoding="utf-8"))
        repeated = merged.keys() & texts.keys()
        if repeated:
            raise ValueError(f"{path.name} repeats {sorted(repeated)}")
        merged.update(texts)
    return merged


def choose(req: Request) -> str:
    wanted = req.args.get("lang") or req.cookies.get(COOKIE)
    if wanted in LANGUAGES:
        return wanted
    return req.accept_languages.best_match(LANGUAGES) or "en"


def language() -> str:
    return getattr(g, "language", None) or (choose(request) if request else "en")


def gettext(key: str, **values: Any) -> str:
    text = catalog(language()).get(key) or catalog("en").get(key) or key
    return text.format(**values) if values else text
