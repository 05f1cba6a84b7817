"""Try it in the browser: a test call on the live versions or on the drafts, played by the real engine
through the real, signed webhooks, in a sandbox that reaches no real number and writes nothing of the
installation's (`gateway.simulation.sandbox`). The panel keeps the caller's inputs so far in its form
and every press replays the whole call with one more (`gateway.simulation.trial`): no call state is
kept between presses, on any server.

Also here, for the text editors: the live SMS segment counter (`static/segments.js` posts a textarea's
text to `segments`) and the preview of an SMS text exactly as it would be sent (`preview`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import phonenumbers
from flask import render_template, request
from phonenumbers import PhoneNumberType
from werkzeug.datastructures import MultiDict

from gateway.deflection.preview import PreviewError, preview_sms
from gateway.flows.model import Flow
from gateway.messaging.segments import count_segments, ucs2_marks
from gateway.messaging.templates import TemplateError, render_sample
from gateway.phone import parse_number
from gateway.services import message_setup
from gateway.simulation.player import Prompt
from gateway.simulation.trial import FLOW_PREFIX, Inputs, Trial, TrialError, answer, play
from gateway.users.roles import Permission
from gateway.web.admin.base import MenuItem, area, requires
from gateway.web.context import sandboxes, services

bp = area("try", __name__)
MENU = MenuItem("admin_try.panel", "menu.try", Permission.EDIT)

MAX_TEXT = 5000  # characters the segment counter takes (an SMS text is far shorter)
ACTIONS = ("call", "undo", "timeout", "say", "wait", "agent", "hangup")


@dataclass
class PanelForm:
    """The panel's fields as typed (shown again as they were), and what is wrong with them."""

    caller: str = ""
    called: str = ""
    day: str = ""
    time: str = ""
    position: str = "3"
    avg_wait: str = "300"
    version: str = "live"
    speech: str = ""
    wait_seconds: str = "120"
    errors: set[str] = field(default_factory=set)  # the names of the fields that are wrong

    @classmethod
    def read(cls, form: MultiDict[str, str]) -> PanelForm:
        def text(name: str) -> str:
            return form.get(name, "").strip()[:300]

        return cls(
            caller=text("caller"),
            called=text("called"),
            day=text("day"),
            time=text("time"),
            position=text("position"),
            avg_wait=text("avg_wait"),
            version="draft" if form.get("version") == "draft" else "live",
            speech=text("speech"),
            wait_seconds=text("wait_seconds"),
        )

    def trial(self, script: tuple[str, ...]) -> Trial | None:
        """The test call these fields ask for (None: they have errors, now in `errors`)."""
        caller = parse_number(self.caller)
        if caller is None:
            self.errors.add("caller")
        called = self.called
        if not called.startswith(FLOW_PREFIX):
            number = parse_number(called)
            if number is None:
                self.errors.add("called")
            called = number.e164 if number else called
        day = _parsed(self.day, date.fromisoformat, "day", self.errors)
        at = _parsed(self.time, time.fromisoformat, "time", self.errors)
        position = _whole(self.position, 1, 1000, "position", self.errors)
        avg_wait = _whole(self.avg_wait, 0, 86400, "avg_wait", self.errors)
        if self.errors or caller is None or position is None or avg_wait is None:
            return None
        return Trial(caller.e164, called, day, at, position, avg_wait, self.version == "draft", script)


@bp.get("/")
@requires(Permission.EDIT)
def panel() -> Any:
    form = PanelForm(version="draft" if request.args.get("version") == "draft" else "live")
    flows = _flows(form.version == "draft")
    default = next((flow for flow in flows if flow.default), flows[0] if flows else None)
    if default is not None:
        form.called = default.numbers[0] if default.numbers else FLOW_PREFIX + default.id
        form.caller = example_mobile(default.home_regions)
    return _render(form, Inputs(), None, flows)


@bp.post("/")
@requires(Permission.EDIT)
def press() -> Any:
    form = PanelForm.read(request.form)
    action, value = _action(request.form, form)
    inputs = answer(
        Inputs.decode(request.form.get("script", ""), request.form.get("typed", "")),
        _prompt(request.form),
        action,
        value,
    )
    trial = form.trial(inputs.script)
    result = None
    if trial is not None:
        try:
            result = play(sandboxes(), trial)
        except TrialError as exc:
            form.errors.add(exc.field)
    return _render(form, inputs, result, _flows(form.version == "draft"))


@bp.post("/segments")
@requires(Permission.EDIT)
def segments() -> Any:
    """The segment counter's fragment for a text being typed (`static/segments.js`)."""
    text = request.form.get("text", "")[:MAX_TEXT]
    locale = request.form.get("locale", "")[:16]
    return render_template("admin/try/_segments.html", **segment_facts(text, locale or None))


@bp.get("/preview")
@requires(Permission.EDIT)
def preview() -> Any:
    """An SMS text of a locale, exactly as an accepted offer would send it (live, draft or a version)."""
    svc = services()
    locales = sorted(key for kind, key in svc.content.store.items() if kind == "sms")
    locale = request.args.get("locale", "") or (locales[0] if locales else "")
    names = sorted(svc.registry.templates().names(locale)) if locale in locales else []
    name = request.args.get("name", "") or (names[0] if names else "")
    which = request.args.get("version", "live").strip() or "live"
    shown, error = None, None
    if locale and name:
        try:
            shown = preview_sms(
                svc.content,
                message_setup(svc.settings),
                name=name,
                locale=locale,
                which=int(which) if which.isdigit() else ("draft" if which == "draft" else "live"),
            )
        except PreviewError as exc:
            error = str(exc)
    template = "admin/try/_preview.html" if request.headers.get("HX-Request") else "admin/try/preview.html"
    facts = segment_facts(shown.message.body) if shown else None
    return render_template(
        template,
        locales=locales,
        names=names,
        locale=locale,
        name=name,
        which=which,
        shown=shown,
        facts=facts,
        error=error,
    )


def segment_facts(text: str, locale: str | None = None) -> dict[str, Any]:
    """What the counter shows of a text: its characters, encoding and segments (the gateway's own
    count, `gateway.messaging.segments`), and each character, marked if it forces UCS-2. An SMS
    template (`locale` given) is counted as it would be sent: rendered with the sample values
    (brand, link, reference, channels), since its {{ placeholders }} are not what the caller reads."""
    problem = None
    if locale is not None:
        try:
            text = render_sample(locale, text).body
        except TemplateError as exc:
            problem = str(exc)
    return {
        "info": count_segments(text),
        "characters": len(text),
        "marks": ucs2_marks(text),
        "rendered": locale is not None and problem is None,
        "problem": problem,
    }


def example_mobile(regions: list[str]) -> str:
    """A mobile number of the first home region, as the panel's default caller (E.164)."""
    example = phonenumbers.example_number_for_type(regions[0] if regions else "US", PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164) if example else ""


def _render(form: PanelForm, inputs: Inputs, result: Any, flows: list[Flow]) -> Any:
    fragment = bool(request.headers.get("HX-Request"))
    template = "admin/try/_panel.html" if fragment else "admin/try/panel.html"
    status = 422 if form.errors and not fragment else 200  # htmx swaps only what succeeded
    return render_template(
        template, form=form, inputs=inputs, result=result, flows=flows, segment_facts=segment_facts
    ), status


def _flows(drafts: bool) -> list[Flow]:
    return sorted(services().registry.flows(drafts=drafts), key=lambda flow: (not flow.default, flow.id))


def _action(form: MultiDict[str, str], fields: PanelForm) -> tuple[str, str]:
    """Which button was pressed, and the value it goes with."""
    if "key" in form:
        return "key", form["key"]
    action = form.get("action", "call")
    action = action if action in ACTIONS else "call"
    return action, {"say": fields.speech, "wait": fields.wait_seconds}.get(action, "")


def _prompt(form: MultiDict[str, str]) -> Prompt | None:
    """Where the last play stopped, as the form carried it (None: the call had ended or not begun)."""
    kind = form.get("prompt_kind", "")
    if kind not in ("keys", "queue"):
        return None
    digits = form.get("prompt_digits", "")
    return Prompt(
        kind,
        stage=form.get("prompt_stage", "")[:40],
        num_digits=int(digits) if digits.isdigit() else None,
        finish_on_key=form.get("prompt_finish", "#")[:1],
    )


def _parsed(text: str, parse: Any, name: str, errors: set[str]) -> Any:
    if not text:
        return None
    try:
        return parse(text)
    except ValueError:
        errors.add(name)
        return None


def _whole(text: str, low: int, high: int, name: str, errors: set[str]) -> int | None:
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    errors.add(name)
    return None
