"""Updates: how the box's signed A/B updates stand, in words, and staging a bundle.

The page stages a bundle with the core function `update stage` uses (through
`firmware.updater.stage_for`, which also records who asked). It never applies one: apply,
rollback and recover need the data lock that `serve` holds and must not run inside a web
request, so the page shows the commands an operator runs, in order, with the appliance stopped.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser
from werkzeug.utils import secure_filename

import appliance
from appliance.accounts.auth import principal_of
from appliance.backup.files import MANIFEST as BACKUP_MANIFEST
from appliance.backup.files import BackupError, complete_backups
from appliance.backup.files import Manifest as BackupManifest
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError
from appliance.platform.executable import appliance_command
from appliance.platform.scratch import make_scratch, scratch_root
from appliance.security.permissions import Action, allowed
from firmware.errors import UpdateRefusedError
from firmware.slots import Install
from firmware.trust import TrustRoot
from firmware.updater import (
    BACKUPS_FOLDER,
    BACKUPS_KEPT,
    default_root,
    running_box,
    running_source,
    stage_for,
    status,
)
from webui.security import app_config, app_store, current_principal, optional_user, requires

bp = Blueprint("updates", __name__)


def _(text: str, **values: Any) -> str:
    """`gettext`, typed: the reader's language, with the values filled in."""
    return str(gettext(text, **values))


# A bundle of the appliance's own code is a few MiB; the archive reader allows 512 MiB of
# content, but an upload this large belongs on the command line, not in a web request.
UPLOAD_LIMIT_BYTES = 128 << 20
FORM_SLACK_BYTES = 64 << 10  # the CSRF field and the multipart framing around the file
SCRATCH_LABEL = "update-upload"
SERVICE = "appliance"  # the systemd unit (provisioning/systemd/appliance.service)
FINGERPRINT_CHARS = 16

# Where a transition stood when it was interrupted (firmware.slots.STEPS), in words.
INTERRUPTED_AT = {
    "started": lazy_gettext("while it was being checked"),
    "backed-up": lazy_gettext("after the data was backed up"),
    "changing-data": lazy_gettext("while the data was being migrated"),
    "data-changed": lazy_gettext("after the data was migrated"),
    "switching": lazy_gettext("while it switched to the new version"),
    "switched": lazy_gettext("while the new version's health check ran"),
    "healthy": lazy_gettext("after the new version passed its health check"),
}
ROLLBACK_INTERRUPTED_AT = {
    **INTERRUPTED_AT,
    "changing-data": lazy_gettext("while the backup was being restored"),
    "data-changed": lazy_gettext("after the backup was restored"),
}


# --- the upload: its own size limit, written into the box's scratch folder ---------------------


def _scratch_file(
    total_content_length: int | None,
    content_type: str | None,
    filename: str | None = None,
    content_length: int | None = None,
) -> IO[bytes]:
    """A new file in this request's private scratch folder (made on first use)."""
    folder: Path | None = g.get("update_scratch")
    if folder is None:
        folder = make_scratch(scratch_root(app_config().data_dir), SCRATCH_LABEL)
        g.update_scratch = folder
    count = g.get("update_parts", 0) + 1
    g.update_parts = count
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW

    def private(path: str, _: int) -> int:
        return os.open(path, flags, 0o600)

    return open(folder / f"part-{count}", "w+b", opener=private)


class _ScratchParser(FormDataParser):
    """The form parser, with every uploaded file written into the scratch folder (never the
    system's temporary folder, whatever the file's size)."""

    def __init__(self, stream_factory: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(_scratch_file, *args, **kwargs)


@bp.url_value_preprocessor
def _prepare_upload(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before the before-request hooks, so before the CSRF check parses the form; only for
    # someone who may stage (the others keep the application's small limit, then get 403).
    if endpoint != "updates.stage_bundle" or request.method != "POST":
        return
    user = optional_user()
    if user is None or user.must_change_password:
        return
    if allowed(principal_of(user), Action.MANAGE_UPDATES) is None:
        return
    request.max_content_length = UPLOAD_LIMIT_BYTES + FORM_SLACK_BYTES
    request.form_data_parser_class = _ScratchParser


@bp.teardown_request
def _discard_upload(_: BaseException | None) -> None:
    folder: Path | None = g.pop("update_scratch", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _saved(upload: FileStorage) -> Path:
    """Where the uploaded bundle lies in the scratch folder, under its own (safe) name."""
    name = getattr(upload.stream, "name", None)
    folder: Path | None = g.get("update_scratch")
    if folder is None or not isinstance(name, str) or Path(name).parent != folder:
        raise BadRequest("the upload did not go through the update page's form parser")
    upload.stream.flush()
    named = folder / "bundle"
    named.mkdir(mode=0o700, exist_ok=True)
    safe = secure_filename(upload.filename or "") or "bundle.tar.gz"
    return Path(name).rename(named / safe)


# --- the status, in words ---------------------------------------------------------------------


@dataclass
class Fact:
    """One line of the status: a label and what it says (and a list under it)."""

    label: str
    text: str
    items: list[str] = field(default_factory=list)
    problem: bool = False


@dataclass
class Commands:
    """Steps an operator runs on the box, in order, with what they are for."""

    lines: list[str]
    explanations: list[str]


@dataclass
class UpdatesPage:
    """Everything the page shows."""

    root: str
    initialised: bool
    facts: list[Fact] = field(default_factory=list)
    unreadable: str | None = None
    staged: str | None = None
    interrupted: str | None = None
    served_by_other: str | None = None
    writable: bool = False
    may_stage: bool = False
    overwrites: str | None = None
    other_slot: str = ""
    apply: Commands | None = None
    apply_failures: list[str] = field(default_factory=list)
    rollback: Commands | None = None
    rollback_notes: list[str] = field(default_factory=list)
    rollback_warning: str | None = None
    no_rollback: str | None = None
    recover: Commands | None = None
    stage_command: str = ""
    init_command: str = ""


def _install() -> Install:
    return Install(default_root())


def _when(stamp: Any) -> str:
    localtime: Callable[[str | None], str] = current_app.jinja_env.filters["localtime"]
    return localtime(str(stamp)) if stamp else _("an unknown time")


def _command(install: Install, config: ApplianceConfig, args: str) -> str:
    """`python -m appliance update ARGS` as the operator runs it: with the code of `current`."""
    return (
        f"cd {_quoted(install.current)} && {_program()} update {args} "
        f"--data-dir {_quoted(config.data_dir)} --root {_quoted(install.root)}"
    )


def _program() -> str:
    """`python -m appliance` (or the compiled binary) as a shell command."""
    return " ".join(_quoted(part) for part in appliance_command())


def _quoted(path: Path | str) -> str:
    return shlex.quote(str(path))


def _steps(install: Install, config: ApplianceConfig, args: str, doing: str) -> Commands:
    return Commands(
        [
            f"systemctl stop {SERVICE}",
            _command(install, config, args),
            f"systemctl start {SERVICE}",
        ],
        [
            _("Stop the appliance: the web interface and the workers stop with it."),
            doing,
            _("Start the appliance again."),
        ],
    )


def _writable(install: Install, other: str) -> bool:
    """Whether this process may write what staging writes (the service usually may not)."""
    lock = install.lock_path
    return (
        os.access(install.state, os.W_OK)
        and os.access(install.slot_dir(other), os.W_OK)
        and os.access(install.slots, os.W_OK)
        and (not lock.exists() or os.access(lock, os.R_OK | os.W_OK))
    )


def _fingerprint(key_id: str) -> str:
    short = key_id[:FINGERPRINT_CHARS]
    return " ".join(short[i : i + 4] for i in range(0, len(short), 4))


def _keys_fact(install: Install) -> Fact:
    label = _("Trusted vendor keys")
    try:
        trust = TrustRoot.load(install.trust_path)
    except (ApplianceError, OSError) as exc:
        return Fact(label, _("They cannot be read: %(reason)s", reason=str(exc)), problem=True)
    named = sorted((trust.names[kid] or _("(no name)"), _fingerprint(kid)) for kid in trust.keys)
    items = [f"{name}: {fingerprint}" for name, fingerprint in named]
    text = _(
        "A bundle needs valid signatures by at least %(threshold)s of these %(count)s keys.",
        threshold=trust.threshold,
        count=len(trust.keys),
    )
    return Fact(label, text, items)


def _counter_fact(counter: dict[str, Any]) -> Fact:
    label = _("Anti-rollback counter")
    if counter.get("counter") is None:
        reason = str(counter.get("problem") or "")
        return Fact(label, _("It cannot be read: %(reason)s", reason=reason), problem=True)
    recorded = _(
        "%(counter)s (recorded with version %(version)s on %(when)s).",
        counter=counter["counter"],
        version=counter.get("version") or "?",
        when=_when(counter.get("recorded_at")),
    )
    verified = counter.get("signature_verified")
    if verified is True:
        check = _("Its signature by this appliance's device key verifies.")
    elif verified is False:
        check = _(
            "Its signature by this appliance's device key does not verify: every update is "
            "refused until the cause is found (docs/updates.md)."
        )
    else:
        check = _("Its signature was not checked: the device's public key is missing.")
    return Fact(label, f"{recorded} {check}", problem=verified is False)


def _backups_fact(config: ApplianceConfig) -> Fact:
    label = _("Backups for updates")
    try:
        found = complete_backups(config.paths.backups / BACKUPS_FOLDER)
    except OSError as exc:
        return Fact(label, _("They cannot be listed: %(reason)s", reason=str(exc)), problem=True)
    if not found:
        return Fact(label, _("No backup has been taken for an update yet."))
    items = []
    for folder in reversed(found):
        try:
            raw = (folder / BACKUP_MANIFEST).read_bytes()
            manifest = BackupManifest.from_bytes(raw, folder)
        except (OSError, BackupError):
            items.append(folder.name)
            continue
        mib = f"{sum(entry.size for entry in manifest.files) / 2**20:.1f}"
        items.append(
            _(
                "%(name)s: version %(version)s, taken on %(when)s, %(mib)s MiB",
                name=folder.name,
                version=manifest.appliance_version,
                when=_when(manifest.created_at),
                mib=mib,
            )
        )
    text = _(
        "Taken by apply and rollback before they change anything; the newest %(kept)s are "
        "kept, in %(folder)s.",
        kept=BACKUPS_KEPT,
        folder=str(config.paths.backups / BACKUPS_FOLDER),
    )
    return Fact(label, text, items)


def _journal_words(journal: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """The journal's state in words; the staged version; the interruption to act on."""
    state, version = journal.get("state"), journal.get("version") or "?"
    if state == "staged":
        text = _("Version %(version)s is staged and waits to be applied.", version=version)
        return text, str(version), None
    if state == "staging":
        text = _(
            "Staging version %(version)s was interrupted: stage the bundle again, or run "
            "“update recover”.",
            version=version,
        )
        return text, None, text
    if state == "transition":
        rollback = journal.get("kind") == "rollback"
        where = (ROLLBACK_INTERRUPTED_AT if rollback else INTERRUPTED_AT).get(
            str(journal.get("step")), lazy_gettext("at an unknown step")
        )
        if rollback:
            text = _(
                "A rollback to %(version)s was interrupted %(where)s: run “update recover” "
                "with the appliance stopped.",
                version=version,
                where=str(where),
            )
        else:
            text = _(
                "An update to %(version)s was interrupted %(where)s: run “update recover” "
                "with the appliance stopped.",
                version=version,
                where=str(where),
            )
        return text, None, text
    if state == "undoing":
        text = _(
            "Undoing the failed update to %(version)s did not complete (%(reason)s): run "
            "“update recover” with the appliance stopped.",
            version=version,
            reason=journal.get("reason") or "?",
        )
        return text, None, text
    return _("No update is under way."), None, None


def _outcome_words(outcome: dict[str, Any] | None) -> str | None:
    if not outcome:
        return None
    result, when = outcome.get("result"), _when(outcome.get("at"))
    version = outcome.get("version") or "?"
    if result == "applied":
        return _(
            "The last update, from %(previous)s to %(version)s, was applied on %(when)s.",
            previous=outcome.get("previous_version") or "?",
            version=version,
            when=when,
        )
    if result == "rolled-back":
        return _(
            "The last rollback, from %(previous)s back to %(version)s, was done on %(when)s.",
            previous=outcome.get("previous_version") or "?",
            version=version,
            when=when,
        )
    if result == "undone":
        return _(
            "A change to %(version)s failed on %(when)s and was undone (%(reason)s). Version "
            "%(current)s runs on the data it had before.",
            version=version,
            when=when,
            reason=outcome.get("reason") or "?",
            current=outcome.get("current_version") or "?",
        )
    if result == "initialised":
        return _(
            "The update slots were set up on %(when)s with version %(version)s.",
            when=when,
            version=version,
        )
    return None


def _rollback(page: UpdatesPage, install: Install, config: ApplianceConfig, found: Any) -> None:
    """What `update rollback` would do now (it checks all of this again itself)."""
    last, current = found.get("last") or {}, found.get("current")
    if last.get("result") != "applied" or current != last.get("slot"):
        page.no_rollback = _(
            "There is nothing to roll back to: no update was applied since the update slots "
            "were set up, or the last one was already rolled back."
        )
        return
    target, previous = str(last.get("previous_slot")), last.get("previous_version")
    if found["slots"].get(target, {}).get("version") != previous:
        page.no_rollback = _(
            "Rollback is no longer possible: slot %(slot)s no longer holds %(version)s (a newer "
            "bundle was staged over it). Install a newer release instead.",
            slot=target,
            version=previous,
        )
        return
    changed = last.get("schema_before") != last.get("schema_after")
    args = "rollback --restore-backup" if changed else "rollback"
    doing = _(
        "Go back to version %(version)s. The command asks for the operator passphrase; run it "
        "as the owner of the install root (usually root).",
        version=previous,
    )
    page.rollback = _steps(install, config, args, doing)
    page.rollback_notes.append(
        _(
            "Rollback goes back to version %(version)s, the one the last update replaced. It is "
            "possible once, while slot %(slot)s still holds it: staging a new bundle overwrites "
            "it.",
            version=previous,
            slot=target,
        )
    )
    if changed:
        page.rollback_warning = _(
            "The last update changed the database schema, so the rollback restores the "
            "backup taken before it (%(backup)s): everything recorded since the update is "
            "then no longer in the database. It is kept in a new backup, which only the "
            "newer version can restore.",
            backup=Path(str(last.get("backup"))).name,
        )
    page.rollback_notes.append(
        _(
            "The anti-rollback counter stays where it is: the bundle rolled back from cannot be "
            "staged again; the vendor ships a fixed release with a higher counter."
        )
    )
    page.overwrites = _(
        "Staging overwrites version %(version)s in slot %(slot)s: the last update can then no "
        "longer be rolled back.",
        version=previous,
        slot=target,
    )


def _page_data() -> UpdatesPage:
    install, config = _install(), app_config()
    page = UpdatesPage(str(install.root), install.initialised())
    page.init_command = (
        f"cd {_quoted(running_source())} && {_program()} update init "
        f"--trusted-keys FILE --data-dir {_quoted(config.data_dir)} --root {_quoted(install.root)}"
    )
    if not page.initialised:
        return page
    try:
        found = status(install, config)
        current = str(found["current"])
        other = install.other(current)
    except (ApplianceError, OSError, KeyError) as exc:
        page.unreadable = str(exc)
        return page
    page.other_slot = other
    page.writable = _writable(install, other)
    page.stage_command = _command(install, config, "stage BUNDLE.tar.gz")
    slots = found["slots"]
    running = slots[current].get("version") or "?"
    page.facts.append(
        Fact(
            _("Running version"),
            _("Version %(version)s, from slot %(slot)s.", version=running, slot=current),
        )
    )
    if running != appliance.__version__:
        page.served_by_other = _(
            "This page is served by version %(served)s, but slot %(slot)s, which the appliance "
            "starts from, holds %(version)s: restart the appliance, or make it start from "
            "%(current)s (docs/updates.md).",
            served=appliance.__version__,
            slot=current,
            version=running,
            current=str(install.current),
        )
    other_version = slots[other].get("version")
    page.facts.append(
        Fact(
            _("Other slot"),
            _("Slot %(slot)s holds version %(version)s.", slot=other, version=other_version)
            if other_version
            else _("Slot %(slot)s is empty.", slot=other),
        )
    )
    state, staged, interrupted = _journal_words(found["journal"])
    page.staged, page.interrupted = staged, interrupted
    # Staging again is how an interrupted stage is cleared; nothing is staged over a transition.
    page.may_stage = not interrupted or found["journal"].get("state") == "staging"
    page.facts.append(
        Fact(_("Staged update"), state if staged else _("Nothing is staged."))
        if staged or found["journal"].get("state") == "idle"
        else Fact(_("Update in progress"), state, problem=True)
    )
    outcome = _outcome_words(found.get("outcome"))
    if outcome:
        page.facts.append(Fact(_("Last change"), outcome))
    page.facts.append(_counter_fact(found.get("counter") or {}))
    page.facts.append(_keys_fact(install))
    page.facts.append(_backups_fact(config))
    doing = _(
        "Apply the staged update. The command asks for the operator passphrase; run it as the "
        "owner of the install root (usually root). It prints the outcome.",
    )
    if staged:
        page.apply = _steps(install, config, "apply", doing)
        page.apply_failures = [
            _("If the appliance still runs, nothing changes: stop it first."),
            _(
                "If the bundle no longer verifies (it expired, or its slot was altered), "
                "nothing changes."
            ),
            _(
                "If the backup, a migration or the new version's health check fails, the "
                "appliance goes back to version %(version)s with the data restored from the "
                "backup taken just before: start it again as usual.",
                version=running,
            ),
            _(
                "If that undo fails too, run “update recover”; as a last resort, restore the "
                "newest backup listed above with “backup restore”."
            ),
            _(
                "If the power fails on the way, “update recover” (or “update apply” again) "
                "finishes or undoes the update."
            ),
            _(
                "Apply takes a full backup first: the data disk needs room for one more copy of "
                "the data directory."
            ),
        ]
    if interrupted:
        finish = _(
            "Finish the interrupted update, or undo it when it had not yet passed its health "
            "check. The command asks for the operator passphrase."
        )
        page.recover = _steps(install, config, "recover", finish)
    else:
        _rollback(page, install, config, found)
    return page


def _render(status_code: int = 200, problems: list[str] | None = None) -> ResponseReturnValue:
    return (
        render_template(
            "admin/updates.html",
            page=_page_data(),
            problems=problems or [],
            limit_mib=UPLOAD_LIMIT_BYTES >> 20,
        ),
        status_code,
    )


@bp.get("/admin/updates")
@requires(Action.MANAGE_UPDATES)
def index() -> ResponseReturnValue:
    """Where updates stand, the upload that stages a bundle, and the commands that apply it."""
    return _render()


@bp.post("/admin/updates/stage")
@requires(Action.MANAGE_UPDATES)
def stage_bundle() -> ResponseReturnValue:
    """Check an uploaded bundle completely and unpack it into the inactive slot (not applied)."""
    install = _install()
    if not install.initialised():
        return _render(409, [_("This appliance has no update slots yet: see below.")])
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        return _render(422, [_("Choose an update bundle to upload.")])
    path = _saved(upload)
    if path.stat().st_size > UPLOAD_LIMIT_BYTES:
        return _render(
            413,
            [
                _(
                    "The bundle is larger than %(limit)s MiB: stage it from the command line.",
                    limit=UPLOAD_LIMIT_BYTES >> 20,
                )
            ],
        )
    box = running_box(install, app_config(), app_store())
    try:
        journal = stage_for(box, path, current_principal().actor, name=path.name)
    except UpdateRefusedError as exc:
        reason = str(exc).replace(str(path), path.name)
        return _render(
            422, [_("The bundle was refused and nothing changed: %(reason)s", reason=reason)]
        )
    except PermissionError:
        reason = _(
            "the appliance's service may not write to the install root %(root)s.",
            root=str(install.root),
        )
        return _render(409, [_("The bundle could not be staged: %(reason)s", reason=reason)])
    except (ApplianceError, OSError) as exc:
        reason = str(exc).replace(str(path), path.name)
        return _render(409, [_("The bundle could not be staged: %(reason)s", reason=reason)])
    flash(
        _(
            "Version %(version)s was checked and staged in slot %(slot)s. It is not installed "
            "yet: apply it with the steps on this page.",
            version=journal.version,
            slot=journal.slot,
        ),
        "success",
    )
    return redirect(url_for("updates.index"), 303)
