"""The texts callers read and hear (SMS texts and voice texts, one item per locale), listed under their
own menu entry; each item's pages are the generic content pages (`gateway.web.admin.content`)."""

from __future__ import annotations

from typing import Any

from gateway.users.roles import Permission
from gateway.web.admin import base, content
from gateway.web.admin.i18n import gettext as _

bp = base.area("texts", __name__)
MENU = base.MenuItem("admin_texts.index", "menu.texts", Permission.VIEW)


@bp.get("/")
@base.requires(Permission.VIEW)
def index() -> Any:
    return content.listing(content.TEXTS, _("content.texts_title"))
