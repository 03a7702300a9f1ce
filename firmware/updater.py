"""Signed updates with A/B slots: init, stage, apply, rollback by hand, recover, status.

An update moves the box from the slot `current` points at to the other one, in journaled steps:

    started        the staged slot verified again (signatures, expiry, version, counter, files)
    backed-up      an encrypted, signed backup of the data (`backup create`'s code)
    changing-data  the new slot's `migrate` runs (a rollback by hand: the backup from before the
                   update is restored with the old slot's code)
    data-changed
    switching      `current` is renamed to the new slot
    switched
    healthy        the new slot's health check passed (`python -m firmware.steps health`)
    (done)         the anti-rollback counter is raised and signed; the journal is idle again

A step that fails undoes the update: `current` back to the previous slot and, once the data
may have changed, the backup restored with the previous slot's code; then that slot's health
check. A command that finds an interrupted update (kill -9, power loss) finishes it when it
had passed its health check and undoes it otherwise; `apply` then applies it again.
Every step is written to the audit log (actor `update`) and to the journal's history.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError
from appliance.platform.locks import exclusive_lock
from appliance.security.passphrase import PASSPHRASE_ENV, PASSPHRASE_FILE_ENV
from appliance.store import Store
from appliance.store.keyring import Keyset
from appliance.store.runtime import KEY_FD_ENV, open_store, send_keyset
from firmware.bundle import (
    MANIFEST,
    SIGNATURES,
    Manifest,
    Policy,
    check_manifest,
    file_sha256,
    open_bundle,
    parse_signatures,
    signature_message,
    signatures_bytes,
    source_files,
    source_version,
    tree_problems,
    unpack,
)
from firmware.counter import CounterRecord, peek_counter, read_counter, trust_digest, write_counter
from firmware.errors import (
    UpdateFailedError,
    UpdateRecoveryError,
    UpdateRefusedError,
    UpdateStateError,
)
from firmware.slots import META, SLOTS, VERSION_FILE, Install, Journal
from firmware.trust import TrustRoot
from firmware.util import write_atomic

logger = logging.getLogger(__name__)

ACTOR = "update"
DEFAULT_ROOT = Path("/opt/interview-appliance")
ROOT_ENV = "APPLIANCE_INSTALL_ROOT"
# Tests only: the name of a step at which the updater kills itself (SIGKILL), as a power cut.
KILL_ENV = "APPLIANCE_TEST_KILL_AT"
CHILD_TIMEOUT_S = 900
BACKUPS_FOLDER = "update"  # under the data directory's backups/
BACKUPS_KEPT = 3
NEVER_EXPIRES = "9999-12-31T23:59:59Z"
PACKAGE_DIRS = ("appliance", "inference", "webui", "firmware", "provisioning")


@dataclass
class Box:
    """What an update command works on: the install root, the appliance, its keys."""

    install: Install
    config: ApplianceConfig
    config_file: Path
    keyset: Keyset
    passphrase: str = field(repr=False)
    # The store a running appliance already has open (the web UI's, see `running_box`): used
    # instead of opening one with `keyset`.
    store: Store | None = field(default=None, repr=False)


def running_box(install: Install, config: ApplianceConfig, store: Store) -> Box:
    """A Box over the store the running appliance has open, for `stage` (the web UI's update
    page): it holds the device key for the counter but no passphrase and no database keys,
    so nothing that must run with the appliance stopped (apply, rollback, recover) can use it."""
    keyset = Keyset(db=b"", vault=b"", device=store.device_key)
    return Box(install, config, config.paths.config, keyset, "", store=store)


@contextlib.contextmanager
def _opened(box: Box) -> Iterator[Store]:
    """The box's own store when it has one, else one opened (and closed) for this use."""
    if box.store is not None:
        yield box.store
        return
    store = open_store(box.config, box.keyset, check_schema=False)
    try:
        yield store
    finally:
        store.close()


def checkpoint(step: str) -> None:
    """Die here, as a power cut would, when a test asks for it (KILL_ENV)."""
    if os.environ.get(KILL_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def default_root() -> Path:
    """$APPLIANCE_INSTALL_ROOT, else the root of the slot this code runs from, else /opt/…."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    here = Path(__file__).resolve().parents[1]  # …/slots/a when run from a slot
    if here.parent.name == "slots" and here.name in SLOTS:
        return here.parents[1]
    return DEFAULT_ROOT


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stderr or result.stdout or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit code {result.returncode}"
    return last[-600:]


def _history(journal: Journal, what: str) -> None:
    journal.history.append({"at": now_stamp(), "step": what})


def _step(box: Box, journal: Journal, step: str) -> None:
    journal.step = step
    _history(journal, f"{journal.kind}:{step}")
    box.install.write_journal(journal)
    checkpoint(step)


def _audit(box: Box, action: str, details: dict[str, Any], *, strict: bool = False) -> None:
    """One audit entry (actor `update`). Strict ones must land; the others, written while the
    data may be half-way, are logged when they cannot be (the journal's history keeps them)."""
    try:
        with _opened(box) as store, store.audited(ACTOR, action) as entry:
            entry.details.update(details)
    except ApplianceError:
        if strict:
            raise
        logger.warning("could not write the audit entry %s", action, exc_info=True)


def _schema(box: Box) -> int:
    from appliance.store.migrate import current_version

    with _opened(box) as store:
        return current_version(store.conn)


def _device_public(keyset: Keyset) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(keyset.device).public_key()


def counter_floor(box: Box) -> int:
    """The anti-rollback counter: the signed record (checked with the sealed device key) or the
    highest counter the audit log recorded, whichever is higher."""
    install = box.install
    record = read_counter(install.counter_path, _device_public(box.keyset), install.trust_path)
    return max(record.counter, _audited_counter(box))


def _audited_counter(box: Box) -> int:
    with _opened(box) as store:
        entries = store.audit.entries(action="update.applied", limit=1_000_000)
    counters = [e.details.get("counter") for e in entries]
    return max((c for c in counters if isinstance(c, int)), default=0)


def _child(
    box: Box, slot: str, args: list[str], *, keys: bool = False, passphrase: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python -P ARGS` with the code of `slot` (and nothing else of ours on the path);
    the key set or the passphrase go through pipes, never the environment."""
    folder = box.install.slot_dir(slot).resolve()
    hidden = (PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, KEY_FD_ENV, KILL_ENV)
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env.update(PYTHONPATH=str(folder), PYTHONDONTWRITEBYTECODE="1")
    fds: list[int] = []
    try:
        if keys:
            fds.append(send_keyset(box.keyset))
            env[KEY_FD_ENV] = str(fds[-1])
        if passphrase:
            read_fd, write_fd = os.pipe()
            fds.append(read_fd)
            try:
                os.write(write_fd, (box.passphrase + "\n").encode("utf-8"))
            finally:
                os.close(write_fd)
            env[PASSPHRASE_FILE_ENV] = f"/dev/fd/{read_fd}"
        return subprocess.run(
            [sys.executable, "-P", *args],
            cwd=folder,
            env=env,
            pass_fds=fds,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    finally:
        for fd in fds:
            os.close(fd)


def _health(box: Box, slot: str) -> subprocess.CompletedProcess[str]:
    return _child(
        box, slot, ["-m", "firmware.steps", "health", "--config", str(box.config_file)], keys=True
    )


def _restore(box: Box, slot: str, backup: str) -> subprocess.CompletedProcess[str]:
    args = ["-m", "firmware.steps", "restore", "--config", str(box.config_file)]
    return _child(box, slot, [*args, "--backup", backup], passphrase=True)


def _require_stopped(config: ApplianceConfig) -> None:
    # MaintenanceLockError (12) when serve, a worker or the watchdog holds the data directory.
    with exclusive_lock(config.paths.lock):
        pass


def _match_owner(config: ApplianceConfig) -> None:
    """Run as root, give files the update made in the data directory to its owner."""
    if os.geteuid() != 0:
        return
    owner = config.data_dir.stat()
    for path in config.data_dir.rglob("*"):
        info = path.lstat()
        if (info.st_uid, info.st_gid) != (owner.st_uid, owner.st_gid):
            os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)


def _policy(box: Box, trust: TrustRoot) -> Policy:
    install = box.install
    current = install.slot_version(install.current_slot())
    if current is None:
        raise UpdateStateError("the current slot has no VERSION file")
    return Policy(trust, current, counter_floor(box), datetime.now(UTC))


def _slot_manifest(install: Install, name: str) -> tuple[bytes, list[dict[str, str]] | None]:
    meta = install.slot_dir(name) / META
    try:
        raw = (meta / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise UpdateStateError(f"slot {name} holds no manifest") from None
    signed = meta / SIGNATURES
    return raw, parse_signatures(signed.read_bytes()) if signed.exists() else None


def verify_slot(install: Install, name: str, trust: TrustRoot, policy: Policy | None) -> Manifest:
    """A slot's signed manifest (checked against `policy` when given, else only its
    signatures) and every file on disk against it. The slot `update init` made is unsigned."""
    raw, signatures = _slot_manifest(install, name)
    if signatures is None:
        if policy is not None:
            raise UpdateRefusedError(f"slot {name} holds no signed bundle: stage one")
        manifest = Manifest.from_bytes(raw)
    elif policy is not None:
        manifest = check_manifest(raw, signatures, policy)
    else:
        trust.require_threshold(signature_message(raw), signatures)
        manifest = Manifest.from_bytes(raw)
    if install.slot_version(name) != manifest.version:
        raise UpdateRefusedError(f"slot {name}'s VERSION differs from its manifest")
    problems = tree_problems(install.slot_dir(name), manifest.files, ignore=(VERSION_FILE, META))
    if problems:
        raise UpdateRefusedError(
            f"slot {name} does not verify on disk: {problems[0]} ({len(problems)} problem(s))"
        )
    return manifest


def _wipe(install: Install, name: str) -> None:
    if name == install.current_slot():
        raise UpdateStateError(f"slot {name} is the current one: it is never wiped")
    folder = install.slot_dir(name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o755)


# --- init --------------------------------------------------------------------------------------


def running_source() -> Path:
    """The folder holding the packages of the code that runs now."""
    import appliance

    return Path(appliance.__file__).resolve().parents[1]


def init(box: Box, trusted_keys: Path, *, source: Path, replace_trust: bool = False) -> str:
    """Make the install root: slot a from `source`, `current`, the trusted keys, the counter."""
    install = box.install
    trust = TrustRoot.load(trusted_keys)
    with install.locked():
        if install.initialised():
            if not replace_trust:
                raise UpdateStateError(f"{install.root} is already an install root")
            old = read_counter(install.counter_path, _device_public(box.keyset), install.trust_path)
            write_atomic(install.trust_path, trusted_keys.read_bytes(), mode=0o644)
            record = CounterRecord(
                old.counter, old.version, trust_digest(install.trust_path), now_stamp()
            )
            write_counter(install.counter_path, record, box.keyset.device)
            _audit(
                box,
                "update.trust_replaced",
                {"keys": sorted(trust.keys), "threshold": trust.threshold},
                strict=True,
            )
            return f"trusted keys replaced: {len(trust.keys)} key(s), threshold {trust.threshold}"
        shutil.rmtree(install.slots, ignore_errors=True)  # what an interrupted init left
        slot = install.slot_dir(SLOTS[0])
        slot.mkdir(parents=True, mode=0o755)
        install.slot_dir(SLOTS[1]).mkdir(mode=0o755)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
        for package in PACKAGE_DIRS:
            shutil.copytree(source / package, slot / package, ignore=ignore)
        version = source_version(slot)
        if version is None:
            raise UpdateStateError(f"{source}/appliance/__init__.py names no __version__")
        floor = _audited_counter(box)
        manifest = Manifest(
            version, version, floor, NEVER_EXPIRES, now_stamp(), {}, tuple(source_files(slot))
        )
        (slot / META).mkdir(mode=0o755)
        (slot / META / MANIFEST).write_bytes(manifest.to_bytes())
        (slot / VERSION_FILE).write_text(version + "\n", encoding="utf-8")
        os.sync()
        write_atomic(install.trust_path, trusted_keys.read_bytes(), mode=0o644)
        record = CounterRecord(floor, version, trust_digest(install.trust_path), now_stamp())
        write_counter(install.counter_path, record, box.keyset.device)
        install.switch(SLOTS[0])
        journal = Journal(outcome={"result": "initialised", "version": version, "at": now_stamp()})
        _history(journal, "init")
        install.write_journal(journal)
        _audit(
            box,
            "update.initialised",
            {
                "version": version,
                "counter": floor,
                "keys": sorted(trust.keys),
                "threshold": trust.threshold,
            },
            strict=True,
        )
    return f"{install.root}: slot a holds {version}, current -> slots/a, counter {floor}"


# --- stage -------------------------------------------------------------------------------------


def _abandon_stage(box: Box, journal: Journal) -> Journal:
    install = box.install
    if journal.slot is not None and journal.slot != install.current_slot():
        _wipe(install, journal.slot)
    _history(journal, "stage:abandoned")
    done = Journal(last=journal.last, outcome=journal.outcome, history=journal.history)
    install.write_journal(done)
    _audit(box, "update.stage_abandoned", {"version": journal.version, "slot": journal.slot})
    return done


def stage(box: Box, bundle: Path) -> Journal:
    """Verify a bundle and unpack it into the inactive slot (wiped first), verified on disk."""
    install = box.install
    install.require_initialised()
    with install.locked():
        journal = install.read_journal()
        if journal.state in ("transition", "undoing"):
            raise UpdateStateError(
                "an update was interrupted: run `update recover` (or `update apply`) first"
            )
        if journal.state == "staging":
            journal = _abandon_stage(box, journal)
        current = install.current_slot()
        target = install.other(current)
        trust = TrustRoot.load(install.trust_path)
        try:
            opened = open_bundle(bundle, _policy(box, trust))
        except UpdateRefusedError as exc:
            _audit(box, "update.refused", {"bundle": bundle.name, "reason": str(exc)}, strict=True)
            raise
        with opened:
            manifest = opened.manifest
            staging = Journal(
                state="staging",
                slot=target,
                from_slot=current,
                version=manifest.version,
                from_version=install.slot_version(current),
                counter=manifest.counter,
                bundle_sha256=opened.sha256,
                started_at=now_stamp(),
                last=journal.last,
                outcome=journal.outcome,
                history=journal.history,
            )
            _history(staging, f"stage:{manifest.version}")
            install.write_journal(staging)
            checkpoint("staging")
            folder = install.slot_dir(target)
            _wipe(install, target)
            try:
                unpack(opened, folder)
                problems = tree_problems(folder, manifest.files, ignore=(VERSION_FILE, META))
                if problems:
                    raise UpdateRefusedError(f"the unpacked slot does not verify: {problems[0]}")
            except (UpdateRefusedError, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
                reason = str(exc) if isinstance(exc, UpdateRefusedError) else f"damaged: {exc}"
                _abandon_stage(box, staging)
                _audit(box, "update.refused", {"bundle": bundle.name, "reason": reason})
                raise UpdateRefusedError(reason) from None
            (folder / META).mkdir(mode=0o755)
            (folder / META / MANIFEST).write_bytes(opened.manifest_bytes)
            (folder / META / SIGNATURES).write_bytes(signatures_bytes(opened.signatures))
            (folder / VERSION_FILE).write_text(manifest.version + "\n", encoding="utf-8")
            os.sync()
        staging.state = "staged"
        _history(staging, "stage:staged")
        install.write_journal(staging)
        _audit(
            box,
            "update.staged",
            {
                "version": manifest.version,
                "counter": manifest.counter,
                "slot": target,
                "bundle_sha256": opened.sha256,
                "files": len(manifest.files),
            },
        )
        return staging


def stage_for(box: Box, bundle: Path, actor: str, *, name: str) -> Journal:
    """`stage`, asked for by a person (the web UI's update page): besides the updater's own
    entries, one `update.stage_requested` under their name says which bundle (`name`, its
    size and SHA-256) they gave and what came of it."""
    details: dict[str, Any] = {
        "bundle": name,
        "bytes": bundle.stat().st_size,
        "sha256": file_sha256(bundle),
    }
    try:
        journal = stage(box, bundle)
    except (ApplianceError, OSError) as exc:
        result = "refused" if isinstance(exc, UpdateRefusedError) else "not-staged"
        details.update(result=result, reason=str(exc).replace(str(bundle), name))
        with _opened(box) as store, store.audited(actor, "update.stage_requested") as entry:
            entry.details.update(details)
        raise
    details.update(result="staged", version=journal.version, counter=journal.counter)
    with _opened(box) as store, store.audited(actor, "update.stage_requested") as entry:
        entry.details.update(details)
    return journal


# --- the transition (apply, rollback by hand) and its undo -------------------------------------


def _take_backup(box: Box) -> Path:
    from appliance.backup.create import create_backup

    folder = box.config.paths.backups / BACKUPS_FOLDER
    with exclusive_lock(box.config.paths.lock):
        store = open_store(box.config, box.keyset, check_schema=False)
        try:
            created = create_backup(store, box.config, folder, keep=BACKUPS_KEPT, actor=ACTOR)
        finally:
            store.close()
    return created.path


def _run_transition(box: Box, journal: Journal) -> Journal:
    install = box.install
    assert journal.slot is not None and journal.from_slot is not None
    try:
        journal.backup = str(_take_backup(box))
        _step(box, journal, "backed-up")
        _step(box, journal, "changing-data")
        if journal.kind == "apply":
            args = ["-m", "appliance", "migrate", "--config", str(box.config_file)]
            result = _child(box, journal.slot, args, keys=True)
            if result.returncode:
                _fail(box, journal, f"the migrations of {journal.version} failed: {_tail(result)}")
        elif journal.restore:
            result = _restore(box, journal.slot, journal.restore)
            if result.returncode:
                _fail(box, journal, f"the backup could not be restored: {_tail(result)}")
        journal.schema_after = _schema(box)
        _step(box, journal, "data-changed")
        _audit(
            box,
            "update.data_changed",
            {
                "kind": journal.kind,
                "schema_before": journal.schema_before,
                "schema_after": journal.schema_after,
            },
        )
        _step(box, journal, "switching")
        install.switch(journal.slot)
        _step(box, journal, "switched")
        _audit(box, "update.switched", {"slot": journal.slot, "version": journal.version})
        health = _health(box, journal.slot)
        if health.returncode:
            _fail(box, journal, f"the health check of {journal.version} failed: {_tail(health)}")
        _step(box, journal, "healthy")
    except (UpdateFailedError, UpdateRecoveryError):
        raise
    except (ApplianceError, OSError, subprocess.SubprocessError) as exc:
        _fail(box, journal, f"{type(exc).__name__}: {exc}")
    return _finish(box, journal)


def _finish(box: Box, journal: Journal) -> Journal:
    install = box.install
    summary = {
        "version": journal.version,
        "slot": journal.slot,
        "previous_version": journal.from_version,
        "previous_slot": journal.from_slot,
        "backup": journal.backup,
        "schema_before": journal.schema_before,
        "schema_after": journal.schema_after,
        "at": now_stamp(),
    }
    if journal.kind == "apply":
        assert journal.counter is not None and journal.version is not None
        record = CounterRecord(
            journal.counter, journal.version, trust_digest(install.trust_path), now_stamp()
        )
        write_counter(install.counter_path, record, box.keyset.device)
        checkpoint("counter-recorded")
        _audit(box, "update.applied", {"counter": journal.counter, **summary})
        last: dict[str, Any] | None = {"result": "applied", "counter": journal.counter, **summary}
    else:
        _audit(box, "update.rolled_back", summary)
        last = {"result": "rolled-back", **summary}
    _history(journal, f"{journal.kind}:done")
    done = Journal(last=last, outcome=last, history=journal.history)
    install.write_journal(done)
    _match_owner(box.config)
    return done


def _fail(box: Box, journal: Journal, reason: str) -> NoReturn:
    logger.error("update step failed: %s", reason)
    undo_to = "idle"
    _undo(box, journal, reason, undo_to)
    raise UpdateFailedError(
        f"{reason}; undone: slot {journal.from_slot} ({journal.from_version}) is current again"
        + (", with the data restored from the backup taken before" if journal.backup else "")
    )


def _undo(box: Box, journal: Journal, reason: str, undo_to: str) -> Journal:
    journal.state, journal.reason, journal.undo_to = "undoing", reason, undo_to
    _history(journal, f"undo:{reason[:200]}")
    box.install.write_journal(journal)
    checkpoint("undo-started")
    return _continue_undo(box, journal)


def _continue_undo(box: Box, journal: Journal) -> Journal:
    install = box.install
    assert journal.from_slot is not None
    install.switch(journal.from_slot)
    _history(journal, "undo:switched-back")
    install.write_journal(journal)
    checkpoint("switched-back")
    if journal.reached("changing-data"):
        if not journal.backup:
            raise UpdateRecoveryError("the data may have changed and no backup is recorded")
        result = _restore(box, journal.from_slot, journal.backup)
        if result.returncode:
            raise UpdateRecoveryError(
                f"the data could not be restored from {journal.backup}: {_tail(result)}; "
                "`update recover` tries again (docs/updates.md)"
            )
        journal.step = "backed-up"  # the data is as it was when the backup was taken
        _history(journal, "undo:data-restored")
        install.write_journal(journal)
        checkpoint("data-restored")
    health = _health(box, journal.from_slot)
    if health.returncode:
        raise UpdateRecoveryError(
            f"slot {journal.from_slot} ({journal.from_version}) fails its health check after "
            f"the undo: {_tail(health)}; see docs/updates.md"
        )
    _history(journal, "undo:healthy")
    outcome = {
        "result": "undone",
        "kind": journal.kind,
        "reason": journal.reason,
        "version": journal.version,
        "current_version": journal.from_version,
        "backup": journal.backup,
        "at": now_stamp(),
    }
    steps = [entry["step"] for entry in journal.history[-20:]]
    _audit(box, "update.undone", {**outcome, "steps": steps})
    _match_owner(box.config)
    if journal.undo_to == "staged":
        done = Journal(
            state="staged",
            slot=journal.slot,
            from_slot=journal.from_slot,
            version=journal.version,
            from_version=journal.from_version,
            counter=journal.counter,
            bundle_sha256=journal.bundle_sha256,
            last=journal.last,
            outcome=outcome,
            history=journal.history,
        )
    else:
        done = Journal(last=journal.last, outcome=outcome, history=journal.history)
    install.write_journal(done)
    return done


def _recover_locked(box: Box, journal: Journal) -> Journal:
    if journal.state == "staging":
        return _abandon_stage(box, journal)
    if journal.state == "undoing":
        return _continue_undo(box, journal)
    if journal.state == "transition":
        if journal.reached("healthy"):
            return _finish(box, journal)
        undo_to = "staged" if journal.kind == "apply" else "idle"
        return _undo(box, journal, f"interrupted at step {journal.step}", undo_to)
    return journal


def recover(box: Box) -> Journal:
    """Finish an interrupted update that had passed its health check; undo any other."""
    box.install.require_initialised()
    with box.install.locked():
        return _recover_locked(box, box.install.read_journal())


def apply(box: Box) -> Journal:
    """Apply the staged bundle (an interrupted update is finished or undone first)."""
    install = box.install
    install.require_initialised()
    with install.locked():
        journal = install.read_journal()
        if journal.state == "staging":
            _abandon_stage(box, journal)
            raise UpdateStateError("staging was interrupted and is wiped: stage the bundle again")
        if journal.state in ("transition", "undoing"):
            journal = _recover_locked(box, journal)
            outcome = journal.outcome or {}
            if journal.state == "idle" and outcome.get("result") == "undone":
                raise UpdateFailedError(f"the update was undone: {outcome.get('reason')}")
            if journal.state != "staged":
                return journal  # finished: it had passed its health check
        if journal.state != "staged":
            raise UpdateStateError("nothing is staged: run `update stage BUNDLE` first")
        _require_stopped(box.config)
        current = install.current_slot()
        if journal.slot is None or journal.slot == current or journal.from_slot != current:
            raise UpdateStateError("the staged slot does not follow the current one: stage again")
        trust = TrustRoot.load(install.trust_path)
        manifest = verify_slot(install, journal.slot, trust, _policy(box, trust))
        journal = Journal(
            state="transition",
            kind="apply",
            slot=journal.slot,
            from_slot=current,
            version=manifest.version,
            from_version=install.slot_version(current),
            counter=manifest.counter,
            bundle_sha256=journal.bundle_sha256,
            schema_before=_schema(box),
            started_at=now_stamp(),
            last=journal.last,
            outcome=journal.outcome,
            history=journal.history,
        )
        _audit(
            box,
            "update.apply_started",
            {
                "version": journal.version,
                "from_version": journal.from_version,
                "counter": journal.counter,
                "slot": journal.slot,
            },
            strict=True,
        )
        _step(box, journal, "started")
        return _run_transition(box, journal)


def rollback(box: Box, *, restore_backup: bool = False) -> Journal:
    """Go back to the version the last update replaced (once), restoring the backup taken
    before that update when the update changed the schema (`restore_backup` must say so)."""
    install = box.install
    install.require_initialised()
    with install.locked():
        journal = install.read_journal()
        if journal.state in ("staging", "transition", "undoing"):
            raise UpdateStateError("an update was interrupted: run `update recover` first")
        last = journal.last
        if not last or last.get("result") != "applied":
            raise UpdateStateError(
                "there is no applied update to roll back (only the last one, and only once)"
            )
        current, target = install.current_slot(), str(last["previous_slot"])
        if current != last["slot"]:
            raise UpdateStateError(f"the current slot is {current}, not the updated {last['slot']}")
        if install.slot_version(target) != last["previous_version"]:
            raise UpdateStateError(
                f"slot {target} no longer holds {last['previous_version']} (a newer bundle was "
                "staged over it): roll forward with a new bundle instead"
            )
        verify_slot(install, target, TrustRoot.load(install.trust_path), None)
        changed = last["schema_before"] != last["schema_after"]
        if changed and not restore_backup:
            raise UpdateStateError(
                f"the update changed the database schema ({last['schema_before']} -> "
                f"{last['schema_after']}): {last['previous_version']} cannot open the data as it "
                "is now. `update rollback --restore-backup` restores the backup taken before "
                f"the update ({Path(str(last['backup'])).name}); what was recorded since is kept "
                "in a new backup, readable with the newer version only"
            )
        if changed and not Path(str(last["backup"])).is_dir():
            raise UpdateStateError(f"the backup taken before the update is gone: {last['backup']}")
        _require_stopped(box.config)
        journal = Journal(
            state="transition",
            kind="rollback",
            slot=target,
            from_slot=current,
            version=str(last["previous_version"]),
            from_version=str(last["version"]),
            restore=str(last["backup"]) if changed else None,
            schema_before=_schema(box),
            started_at=now_stamp(),
            last=last,
            outcome=journal.outcome,
            history=journal.history,
        )
        _audit(
            box,
            "update.rollback_started",
            {
                "version": journal.version,
                "from_version": journal.from_version,
                "restore": Path(journal.restore).name if journal.restore else None,
            },
            strict=True,
        )
        _step(box, journal, "started")
        return _run_transition(box, journal)


# --- status ------------------------------------------------------------------------------------


def _slot_summary(install: Install, name: str) -> dict[str, Any]:
    summary: dict[str, Any] = {"version": install.slot_version(name)}
    try:
        raw, signatures = _slot_manifest(install, name)
        manifest = Manifest.from_bytes(raw)
        summary.update(
            signed=signatures is not None, counter=manifest.counter, expires=manifest.expires
        )
    except (UpdateStateError, UpdateRefusedError):
        summary["signed"] = None
    return summary


def status(install: Install, config: ApplianceConfig | None) -> dict[str, Any]:
    """Slots, versions, `current`, the journal and the counter; needs no passphrase (the
    counter's signature is checked with the device's published public key)."""
    if not install.initialised():
        return {"root": str(install.root), "initialised": False}
    device_key = None
    if config is not None and config.paths.device_public_key.exists():
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        published = load_pem_public_key(config.paths.device_public_key.read_bytes())
        device_key = published if isinstance(published, Ed25519PublicKey) else None
    journal = install.read_journal()
    advice = {
        "staging": "a stage was interrupted: stage again (or `update recover`)",
        "staged": "run `update apply` with the appliance stopped",
        "transition": "interrupted: `update apply` finishes or retries it, `update recover` "
        "finishes it (healthy) or undoes it",
        "undoing": "an undo was interrupted: `update recover` completes it",
    }.get(journal.state)
    return {
        "root": str(install.root),
        "initialised": True,
        "current": install.current_slot(),
        "slots": {name: _slot_summary(install, name) for name in SLOTS},
        "journal": {
            "state": journal.state,
            "kind": journal.kind,
            "step": journal.step,
            "slot": journal.slot,
            "version": journal.version,
            "from_version": journal.from_version,
            "reason": journal.reason,
            "started_at": journal.started_at,
        },
        "advice": advice,
        "last": journal.last,
        "outcome": journal.outcome,
        "counter": peek_counter(install.counter_path, device_key),
    }
