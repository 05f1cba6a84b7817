"""The one service API for everything callers hear and read (flows, SMS texts, voice texts): drafts,
numbered versions, one live version per item, rollback to a named version, import and export of files,
and an audit entry for every change. The `deflect content` CLI and the admin console call it.

The lifecycle of an item:
- a draft is saved (from files, or edited), checked on every save (its problems kept with it);
- publishing makes the draft the next version and that version live (refused while it has problems,
  or when someone else published since the draft was started, unless forced; a draft identical to
  the live version publishes nothing);
- with four eyes on (`DEFLECT_ADMIN_FOUR_EYES`), the draft's author may not publish it (`identity`);
- a rollback makes a named version live again (twice in a row: it stays live), and creates none;
- files are the interchange format: an import publishes each changed item from files, an export
  writes the live versions back byte for byte; on an empty store the shipped files are version 1.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.clock import Clock
from gateway.content.actors import identity
from gateway.content.kinds import Kind
from gateway.flows.crosschecks import Deployment, missing_texts
from gateway.flows.loader import FlowError, Problem, check_flow_text, format_problem, read_yaml
from gateway.flows.voice_text_set import VoiceTextError
from gateway.messaging.templates import TemplateError
from gateway.store.content import Change, ContentStore, Draft, Version, checksum
from gateway.store.models import AuditEntry

log = logging.getLogger(__name__)

Which = int | str  # a version number, "live" or "draft"


class ContentError(ValueError):
    """What was asked cannot be done (no such item or version, a draft with problems...)."""


class FourEyesError(ContentError):
    """Four eyes (DEFLECT_ADMIN_FOUR_EYES): the draft's author may not publish it."""

    def __init__(self, kind: str, key: str, author: str) -> None:
        self.author = author
        super().__init__(
            f"{kind} '{key}': four eyes: the draft was saved by {author}, so someone else publishes it"
        )


@dataclass(frozen=True)
class ItemStatus:
    kind: str
    key: str
    live: int | None
    versions: int
    draft: Draft | None

    @property
    def draft_state(self) -> str:
        """none | ok | problems | stale (started from an older version than the live one)."""
        if self.draft is None:
            return "none"
        if self.draft.problems:
            return "problems"
        if self.live is not None and self.draft.based_on != self.live:
            return "stale"
        return "ok"


@dataclass(frozen=True)
class Outcome:
    """What one publish, rollback or import did: `version` is live now; `created` says whether a new
    version was made (an unchanged draft or file makes none)."""

    kind: str
    key: str
    version: int | None
    created: bool
    message: str
    problems: tuple[str, ...] = ()
    changed: bool = True  # whether the live version moved (False: unchanged, or live already)


class ContentService:
    def __init__(
        self, store: ContentStore, kinds: Mapping[str, Kind], clock: Clock, *, four_eyes: bool = False
    ) -> None:
        self.store = store
        self.kinds = dict(kinds)
        self.clock = clock
        self.four_eyes = four_eyes  # a draft is published by someone other than its author

    # -- looking ----------------------------------------------------------------------------------

    def items(self) -> list[ItemStatus]:
        live = self.store.live_pointers()
        drafts = {(d.kind, d.key): d for d in self.store.drafts()}
        return [
            ItemStatus(
                kind, key, live.get((kind, key)), len(self.store.history(kind, key)), drafts.get((kind, key))
            )
            for kind, key in self.store.items()
        ]

    def status(self, kind: str, key: str) -> ItemStatus:
        self._kind(kind)
        history = self.store.history(kind, key)
        draft = self.store.draft(kind, key)
        if not history and draft is None:
            raise ContentError(f"no {kind} '{key}' (deflect content list shows what there is)")
        return ItemStatus(kind, key, self.store.live_pointers().get((kind, key)), len(history), draft)

    def history(self, kind: str, key: str) -> list[Version]:
        return self.store.history(kind, key)

    def last_changes(self) -> dict[tuple[str, str], AuditEntry]:
        """Each item's newest audit entry (a draft saved, a publish, a rollback...): who and when."""
        subjects = {f"{kind}:{key}": (kind, key) for kind, key in self.store.items()}
        return {subjects[s]: entry for s, entry in self.store.last_changes(list(subjects)).items()}

    def files(self, kind: str, key: str, which: Which = "live") -> dict[str, str]:
        if which == "draft":
            draft = self.store.draft(kind, key)
            if draft is None:
                raise ContentError(f"{kind} '{key}' has no draft")
            return draft.files
        return self._version(kind, key, which).files

    def compiled(self, kind: str, key: str, which: Which = "live") -> Any:
        """The item as the gateway runs it (a flow: its `Flow`), of a version, "live" or the draft."""
        files = self.files(kind, key, which)
        try:
            return self._kind(kind).compile(key, files, which if isinstance(which, int) else 0)
        except (FlowError, TemplateError, VoiceTextError) as exc:
            raise ContentError(f"{kind} '{key}' ({_label(which)}) has problems") from exc

    def changes(self, kind: str, key: str, limit: int = 20) -> list[AuditEntry]:
        """The item's audit entries, newest first."""
        return self.store.audit(f"{kind}:{key}", limit)

    def diff(self, kind: str, key: str, old: Which, new: Which) -> str:
        """A unified diff, file by file, from `old` to `new` ("" when they are the same)."""
        before, after = self.files(kind, key, old), self.files(kind, key, new)
        chunks: list[str] = []
        for path in sorted(set(before) | set(after)):
            chunks.extend(
                difflib.unified_diff(
                    before.get(path, "").splitlines(keepends=True),
                    after.get(path, "").splitlines(keepends=True),
                    fromfile=f"{path} ({_label(old)})",
                    tofile=f"{path} ({_label(new)})",
                )
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)

    def check(
        self,
        kind: str,
        key: str,
        files: Mapping[str, str],
        *,
        batch: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    ) -> list[Problem]:
        """The item's own problems, then what it says about the others (a flow's texts), which may
        be live, drafted, or in the `batch` of files being imported with it."""
        problems = self._kind(kind).check(key, files)
        return problems or self._cross_check(kind, key, files, batch or {})

    # -- changing ---------------------------------------------------------------------------------

    def save_draft(self, kind: str, files: Mapping[str, str], *, actor: str, key: str | None = None) -> Draft:
        """Save (or replace) an item's draft; it is checked and its problems kept with it."""
        handler = self._kind(kind)
        key = key or handler.key_of(files)
        problems = [format_problem(p) for p in self.check(kind, key, files)]
        live = self.store.live_pointers().get((kind, key))
        change = Change(
            actor, "draft.saved", f"{kind}:{key}", f"v{live}" if live else None, checksum(files)[:12]
        )
        return self.store.save_draft(
            kind, key, files, based_on=live, problems=problems, now=self.clock.now(), change=change
        )

    def discard_draft(self, kind: str, key: str, *, actor: str) -> bool:
        change = Change(actor, "draft.discarded", f"{kind}:{key}")
        return self.store.discard_draft(kind, key, now=self.clock.now(), change=change)

    def publish(self, kind: str, key: str, *, actor: str, comment: str, force: bool = False) -> Outcome:
        """The draft becomes the next version, live at once."""
        draft = self.store.draft(kind, key)
        if draft is None:
            raise ContentError(f"{kind} '{key}' has no draft to publish (deflect content draft ...)")
        if self.four_eyes and identity(draft.author) == identity(actor):
            self.store.record(
                Change(actor, "content.publish_refused", f"{kind}:{key}", detail={"reason": "four eyes"}),
                self.clock.now(),
            )
            raise FourEyesError(kind, key, draft.author)
        problems = [format_problem(p) for p in self.check(kind, key, draft.files)]
        if problems:
            raise ContentError(f"{kind} '{key}': the draft has problems:\n" + "\n".join(problems))
        live = self.store.live(kind, key)
        if live is not None and draft.based_on != live.version and not force:
            raise ContentError(
                f"{kind} '{key}': the draft was started from version {draft.based_on}, and version "
                f"{live.version} is live now; look at `deflect content diff {kind} {key} live draft`, "
                "then publish with --force to replace it"
            )
        if live is not None and live.checksum == draft.checksum:
            self.discard_draft(kind, key, actor=actor)
            return Outcome(
                kind, key, live.version, False, f"unchanged: version {live.version} stays live", changed=False
            )
        before = f"v{live.version}" if live else None
        change = Change(actor, "content.published", f"{kind}:{key}", before, detail={"comment": comment})
        version = self.store.publish(
            kind, key, draft.files, comment=comment, now=self.clock.now(), change=change, drop_draft=True
        )
        log.info("%s %s published as version %d by %s", kind, key, version.version, actor)
        return Outcome(kind, key, version.version, True, f"version {version.version} is live")

    def rollback(self, kind: str, key: str, version: int, *, actor: str) -> Outcome:
        """Make version `version` live again (it names a target: twice in a row, it stays live)."""
        target = self._version(kind, key, version)
        live = self.store.live_pointers().get((kind, key))
        if live == target.version:
            return Outcome(kind, key, live, False, f"version {live} is live already", changed=False)
        problems = [format_problem(p) for p in self._cross_check(kind, key, target.files, {})]
        if problems:
            raise ContentError(f"{kind} '{key}' version {version} no longer fits:\n" + "\n".join(problems))
        change = Change(actor, "content.rolled_back", f"{kind}:{key}", f"v{live}", f"v{target.version}")
        self.store.make_live(kind, key, target.version, now=self.clock.now(), change=change)
        log.info("%s %s rolled back to version %d by %s", kind, key, target.version, actor)
        return Outcome(kind, key, target.version, False, f"version {target.version} is live")

    def import_files(
        self,
        directories: Mapping[str, Path],
        *,
        actor: str,
        comment: str = "imported from files",
        dry_run: bool = False,
    ) -> list[Outcome]:
        """Publish every item whose files differ from its live version (an identical one makes no
        version). All or nothing: when any item has problems, nothing is imported and every problem
        is reported, so the store never holds half of a set of files that belong together.
        `dry_run`: the same checks and outcomes, nothing changed or recorded (a CI check of files)."""
        found = [
            (kind, key, files)
            for kind, directory in directories.items()
            for key, files in self._kind(kind).scan(directory).items()
        ]
        batch = {(kind, key): files for kind, key, files in found}
        checked = [
            (kind, key, files, tuple(format_problem(p) for p in self.check(kind, key, files, batch=batch)))
            for kind, key, files in found
        ]
        if any(problems for *_, problems in checked):
            refused = [(kind, key, problems) for kind, key, _, problems in checked if problems]
            now = self.clock.now()
            for kind, key, problems in refused if not dry_run else []:
                self.store.record(
                    Change(
                        actor, "content.import_refused", f"{kind}:{key}", detail={"problems": list(problems)}
                    ),
                    now,
                )
            return [
                Outcome(
                    kind,
                    key,
                    self.store.live_pointers().get((kind, key)),
                    False,
                    _refusal(problems),
                    problems,
                    changed=False,
                )
                for kind, key, _, problems in checked
            ]
        plans = [
            (kind, key, files, self._plan(kind, key, files, actor=actor, comment=comment, dry_run=dry_run))
            for kind, key, files, _ in checked
        ]
        changes = [(kind, key, files, plan) for kind, key, files, plan in plans if isinstance(plan, Change)]
        # One transaction for the whole set: another process importing the same files at the same
        # time (workers starting on a new database) never sees, nor checks against, half of it.
        published = iter(
            self.store.publish_all(changes, comment=comment, now=self.clock.now()) if changes else []
        )
        return [plan if isinstance(plan, Outcome) else _published(next(published)) for *_, plan in plans]

    def _plan(
        self, kind: str, key: str, files: dict[str, str], *, actor: str, comment: str, dry_run: bool
    ) -> Outcome | Change:
        """What importing these files does to the item: nothing (its Outcome says why), or a new
        version, published under the returned Change."""
        live = self.store.live(kind, key)
        if live is not None and live.checksum == checksum(files):
            return Outcome(
                kind, key, live.version, False, f"unchanged: version {live.version} stays live", changed=False
            )
        if dry_run:
            history = self.store.history(kind, key)
            number = history[0].version + 1 if history else 1
            return Outcome(
                kind, key, live.version if live else None, False, f"would be version {number}", changed=False
            )
        before = f"v{live.version}" if live else None
        return Change(actor, "content.imported", f"{kind}:{key}", before, detail={"comment": comment})

    def export(self, directories: Mapping[str, Path]) -> list[Path]:
        """Write every live item's files under its kind's directory, exactly as published."""
        written = []
        live = self.store.live_pointers()
        for (kind, key), number in sorted(live.items()):
            if kind not in directories:
                continue
            version = self._version(kind, key, number)
            for relative, text in sorted(version.files.items()):
                path = directories[kind] / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
                written.append(path)
        return written

    def ensure_imported(self, directories: Mapping[str, Path]) -> list[Outcome]:
        """On an empty store, the shipped files become version 1 of each kind that has no versions yet
        (a kind with versions is never touched: the store is the source of truth from then on)."""
        empty = {kind: path for kind, path in directories.items() if self.store.is_empty(kind)}
        return (
            self.import_files(empty, actor="system", comment="the files the store started from")
            if empty
            else []
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _kind(self, kind: str) -> Kind:
        try:
            return self.kinds[kind]
        except KeyError:
            raise ContentError(f"unknown kind '{kind}' (kinds: {', '.join(sorted(self.kinds))})") from None

    def _version(self, kind: str, key: str, which: Which) -> Version:
        self._kind(kind)
        if which == "live":
            number = self.store.live_pointers().get((kind, key))
            if number is None:
                raise ContentError(f"{kind} '{key}' has no live version")
            which = number
        version = self.store.version(kind, key, int(which))
        if version is None:
            raise ContentError(f"{kind} '{key}' has no version {which}")
        return version

    def _cross_check(
        self,
        kind: str,
        key: str,
        files: Mapping[str, str],
        batch: Mapping[tuple[str, str], Mapping[str, str]],
    ) -> list[Problem]:
        """A flow's offers need their texts in the flow's locale: its SMS texts, and the voice texts of
        the dialogue (each live, drafted, or being imported with it). New consent words need a new
        consent version: the consent ledger says which words each caller agreed to by it."""
        if kind == "voice":
            return self._consent_kept_apart(key, files)
        if kind != "flow" or len(files) != 1:
            return []
        [(name, text)] = files.items()
        texts = Deployment(
            sms_templates=self._sms_names(batch), voice_locales=self._locales_of("voice", batch)
        )
        return missing_texts([check_flow_text(text, name)], texts)

    def _consent_kept_apart(self, key: str, files: Mapping[str, str]) -> list[Problem]:
        live = self.store.live("voice", key)
        if live is None or live.files == files:
            return []
        kind = self.kinds["voice"]
        before, after = kind.compile(key, live.files, live.version), kind.compile(key, files, 0)
        changed = [k for k in ("consent", "consent_keyed") if getattr(before, k) != getattr(after, k)]
        if not changed or before.consent_version != after.consent_version:
            return []
        [(name, text)] = files.items()
        source, _, _ = read_yaml(text, name)
        message = (
            f"the consent words changed but consent_version did not: raise it above "
            f"{before.consent_version.rsplit('-v', 1)[-1]} (the consent ledger records it with each consent)"
        )
        return [Problem(name, source.locate(("texts", step))[0], step, message) for step in changed]

    def _sms_names(self, batch: Mapping[tuple[str, str], Mapping[str, str]]) -> dict[str, set[str]] | None:
        """The SMS text names of each locale (None: this store keeps no SMS texts)."""
        if "sms" not in self.kinds:
            return None
        names: dict[str, set[str]] = {}
        for files in self._texts_of("sms", batch):
            for path in files:
                locale, _, file_name = path.partition("/")
                names.setdefault(locale, set()).add(file_name.removesuffix(".txt"))
        return names

    def _locales_of(self, kind: str, batch: Mapping[tuple[str, str], Mapping[str, str]]) -> set[str] | None:
        if kind not in self.kinds:
            return None
        return {key for (each, key) in [*self.store.items(), *batch] if each == kind}

    def _texts_of(
        self, kind: str, batch: Mapping[tuple[str, str], Mapping[str, str]]
    ) -> list[Mapping[str, str]]:
        found: list[Mapping[str, str]] = [files for (each, _), files in batch.items() if each == kind]
        for each, key in self.store.items():
            if each != kind:
                continue
            live, draft = self.store.live(kind, key), self.store.draft(kind, key)
            found += [v.files for v in (live, draft) if v is not None]
        return found


def _refusal(problems: tuple[str, ...]) -> str:
    return "refused: it has problems" if problems else "not imported: other files have problems"


def _label(which: Which) -> str:
    return which if isinstance(which, str) else f"v{which}"


def _published(version: Version) -> Outcome:
    return Outcome(version.kind, version.key, version.version, True, f"version {version.version} is live")
