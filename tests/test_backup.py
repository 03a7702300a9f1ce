"""Backups you can restore (issue 19): `backup create|verify|restore` over a real appliance.

What is checked: a backup holds both databases encrypted under their keys, the sealed key set,
the spool files as they are and a signed manifest, with private modes and no plaintext; it is
written to a partial folder and renamed when complete, and rotated with --keep; `verify` and
`restore` refuse a wrong passphrase and a tampered file; `restore` goes into a fresh folder
only, after which the appliance opens with the same passphrase and `check` is clean; an
erasure made after the backup is re-applied from the erasure ledger, and without a ledger the
restore says that those erasures must be run again; the worker takes scheduled backups.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.accounts.auth import principal_of
from appliance.backup.create import create_backup
from appliance.backup.files import MANIFEST, complete_backups, copy_hashed
from appliance.backup.ledger import LEDGER
from appliance.backup.schedule import JOB_KIND
from appliance.jobs.worker import PERIODIC, Worker
from appliance.media.recordings import ingest_recording
from appliance.media.spool import Spool
from appliance.platform.config import load_config
from appliance.platform.errors import NotFoundError
from appliance.privacy.erasure import erase_candidate, place_hold, release_hold
from appliance.security.permissions import Principal
from appliance.security.sealing import PassphraseSealer
from appliance.store import Store
from appliance.store.erasures import ErasureRepository
from appliance.store.keyring import unlock
from appliance.store.migrate import available_migrations
from appliance.store.runtime import open_store

from .conftest import (
    FAST_SCRYPT,
    PASSPHRASE,
    REPO,
    Appliance,
    make_appliance,
    make_user,
    write_wav,
)

WRONG = "not the passphrase of this appliance"


@dataclass
class Person:
    """A candidate with one recording stored through the real ingest path."""

    candidate_id: int
    pseudonym: str
    name: str
    recording_id: int
    spool_name: str
    media: bytes


def add_person(appliance: Appliance, store: Store, tmp_path: Path) -> Person:
    """A candidate (name with a canary) with an interview and a real WAV recording."""
    canary = "Canary" + secrets.token_hex(6)
    with store.transaction():
        job = store.requisitions.create("Engineer", "Engineering", "Berlin", "EU")
    candidate = store.candidates.create(f"{canary} Doe", email=f"{canary.lower()}@example.invalid")
    interview = store.interviews.create(candidate.id, job.id)
    wav = write_wav(tmp_path / f"{canary}.wav", 0.5, marker=b"MEDIAMARK" + secrets.token_bytes(23))
    media = wav.read_bytes()
    wav.unlink()
    ingested = ingest_recording(
        store,
        appliance.spool(),
        appliance.config,
        interview_id=interview.id,
        source=io.BytesIO(media),
        filename=f"{canary}.wav",
        content_type="audio/wav",
        actor="test",
    )
    recording = ingested.recording
    return Person(
        candidate.id,
        candidate.pseudonym,
        f"{canary} Doe",
        recording.id,
        recording.spool_name,
        media,
    )


def hr_admin(store: Store) -> Principal:
    """An HR administrator of every department and region."""
    found = store.users.by_username("hr.erase")
    user_id = (
        found.id
        if found
        else make_user(store, "hr.erase", "hr_admin", regions=["*"], departments=["*"])
    )
    return principal_of(store.users.get(user_id))


def erase(store: Store, spool: Spool, person: Person) -> None:
    """Erase a candidate with the real erasure code, as HR would."""
    erase_candidate(
        store, spool, hr_admin(store), person.candidate_id, "the candidate asked to be erased"
    )


def run(appliance: Appliance, *args: str, **env: str) -> tuple[int, str, str]:
    """`python -m appliance ARGS` without --config (verify and restore need none)."""
    done = subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        env=appliance.env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def only_backup(folder: Path) -> Path:
    [backup] = complete_backups(folder)
    return backup


def restored_store(data_dir: Path) -> Store:
    """Open a restored appliance the way the CLI does: its config, the same passphrase."""
    config = load_config(data_dir / "appliance.toml")
    keyset = unlock(config.paths, PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT))
    return open_store(config, keyset)


def recording_bytes(store: Store, spool: Spool, person: Person) -> bytes:
    """Decrypt a person's recording with their key from the vault."""
    recording = store.recordings.get(person.recording_id)
    key = store.vault.key_for(person.pseudonym)
    with spool.open(recording.spool_name, recording.wrapped_data_key, key) as reader:
        return reader.read()


@pytest.fixture
def with_folder(tmp_path: Path) -> tuple[Appliance, Path]:
    """An appliance whose scheduled-backup folder (and so its erasure ledger) is set."""
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    return make_appliance(tmp_path, backup={"folder": str(folder)}), folder


# --- create ------------------------------------------------------------------------------------


def test_a_backup_holds_everything_encrypted_with_a_manifest_and_private_modes(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    person = add_person(appliance, store, tmp_path)
    folder = tmp_path / "backups"
    code = appliance.cli("backup", "create", "--to", str(folder))
    assert code.returncode == 0, code.stderr
    backup = only_backup(folder)
    assert f"backup {backup} written: 6 files" in code.stdout

    manifest = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["schema_version"] == len(available_migrations())
    assert manifest["appliance_version"] and manifest["created_at"].endswith("Z")
    files = {entry["path"]: entry for entry in manifest["files"]}
    assert set(files) == {
        "appliance.toml",
        "db/appliance.db",
        "db/vault.db",
        "keys/db-key.sealed.json",
        "keys/device.pub.pem",
        f"spool/{person.spool_name}",
    }
    for relative, entry in files.items():
        data = (backup / relative).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    # The spool file is copied as it is: already encrypted under the candidate's key.
    live = (appliance.config.paths.spool / person.spool_name).read_bytes()
    assert (backup / "spool" / person.spool_name).read_bytes() == live

    for path in [backup, *backup.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    # Never plaintext: no SQLite header, no name, no media in any file of the backup.
    for path in backup.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"SQLite format 3" not in data[:16], path
            assert person.name.encode() not in data and person.media[44:2000] not in data, path
    audit = store.audit.entries(action="backup.created")
    assert audit and audit[-1].details["backup"] == backup.name


def test_keep_rotates_to_the_newest_backups(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    made = [create_backup(store, appliance.config, folder, keep=2).path for _ in range(3)]
    assert complete_backups(folder) == made[1:]
    assert not made[0].exists()
    code = appliance.cli("backup", "create", "--to", str(folder), "--keep", "1")
    assert code.returncode == 0, code.stderr
    assert f"deleted the older backup {made[1].name}" in code.stdout
    assert f"deleted the older backup {made[2].name}" in code.stdout
    assert len(complete_backups(folder)) == 1


def test_an_interrupted_backup_leaves_nothing_that_looks_complete(
    appliance: Appliance, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_person(appliance, store, tmp_path)
    folder = tmp_path / "backups"
    real_copy = copy_hashed

    def copy_then_fail(source: Path, target: Path) -> tuple[int, str]:
        if target.parent.name == "spool":
            raise OSError(28, "No space left on device")
        return real_copy(source, target)

    monkeypatch.setattr("appliance.backup.create.copy_hashed", copy_then_fail)
    with pytest.raises(OSError, match="No space left"):
        create_backup(store, appliance.config, folder)
    assert [p.name for p in folder.iterdir() if p.name != ".backup.lock"] == []

    # A process killed mid-copy cleans nothing up (no rmtree here): what stays is a hidden
    # partial folder, never a `backup-*` one; `verify` refuses it, the next backup sweeps it.
    with monkeypatch.context() as crash:
        crash.setattr("appliance.backup.create.shutil.rmtree", lambda *args, **kwargs: None)
        with pytest.raises(OSError, match="No space left"):
            create_backup(store, appliance.config, folder)
    [left] = [p for p in folder.iterdir() if p.name != ".backup.lock"]
    assert left.name.startswith(".partial-backup-") and (left / "db" / "vault.db").exists()
    assert complete_backups(folder) == []
    code, _, err = run(appliance, "backup", "verify", str(left))
    assert code == 48 and "is what an interrupted backup left, not a backup" in err
    code, _, err = run(appliance, "backup", "verify", str(folder / "backup-none"))
    assert code == 48 and "is not a backup folder" in err
    monkeypatch.setattr("appliance.backup.create.copy_hashed", real_copy)
    taken = create_backup(store, appliance.config, folder).path
    assert not left.exists() and complete_backups(folder) == [taken]


# --- verify ------------------------------------------------------------------------------------


def test_verify_accepts_an_intact_backup_and_refuses_a_wrong_passphrase(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    add_person(appliance, store, tmp_path)
    backup = create_backup(store, appliance.config, tmp_path / "backups").path
    before = {p: p.read_bytes() for p in backup.rglob("*") if p.is_file()}

    code, out, err = run(appliance, "backup", "verify", str(backup))
    assert code == 0, err
    assert out.startswith(f"ok: {backup.name}") and "pass their integrity checks" in out
    # Read-only: verifying wrote nothing into the backup (no journal, no changed page).
    assert {p: p.read_bytes() for p in backup.rglob("*") if p.is_file()} == before

    code, out, err = run(appliance, "backup", "verify", str(backup), APPLIANCE_PASSPHRASE=WRONG)
    assert code == 3
    assert f"the backup {backup.name} does not open" in err
    assert "wrong passphrase" in err and out == ""


@pytest.mark.parametrize("target", ["spool", "db/appliance.db", "db/vault.db"])
def test_verify_and_restore_refuse_a_tampered_file(
    appliance: Appliance, store: Store, tmp_path: Path, target: str
) -> None:
    person = add_person(appliance, store, tmp_path)
    backup = create_backup(store, appliance.config, tmp_path / "backups").path
    relative = f"spool/{person.spool_name}" if target == "spool" else target
    path = backup / relative
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    code, _, err = run(appliance, "backup", "verify", str(backup))
    assert code == 48
    assert f"{relative} was altered (its SHA-256 differs from the manifest)" in err
    new = tmp_path / "restored"
    code, _, err = run(appliance, "backup", "restore", str(backup), "--data-dir", str(new))
    assert code == 48 and "does not verify" in err
    assert not new.exists()
    assert [p.name for p in tmp_path.iterdir() if ".restoring-" in p.name] == []


def test_a_manifest_rewritten_to_match_a_tampered_file_fails_its_signature(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    person = add_person(appliance, store, tmp_path)
    backup = create_backup(store, appliance.config, tmp_path / "backups").path
    relative = f"spool/{person.spool_name}"
    data = bytearray((backup / relative).read_bytes())
    data[100] ^= 0x01
    (backup / relative).write_bytes(bytes(data))
    manifest = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        if entry["path"] == relative:
            entry["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (backup / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    code, _, err = run(appliance, "backup", "verify", str(backup))
    assert code == 48
    assert "the manifest is not signed by the device key in the backup" in err


# --- restore -----------------------------------------------------------------------------------


def test_restore_brings_back_the_appliance_and_reapplies_a_later_erasure(
    with_folder: tuple[Appliance, Path], tmp_path: Path
) -> None:
    appliance, folder = with_folder
    store = appliance.open_store()
    spool = appliance.spool()
    kept = add_person(appliance, store, tmp_path)
    gone = add_person(appliance, store, tmp_path)

    code = appliance.cli("backup", "create", "--to", str(folder), "--keep", "3")
    assert code.returncode == 0, code.stderr
    backup = only_backup(folder)

    # Erased after the backup: the backup still holds their key and their recording.
    erase(store, spool, gone)
    assert gone.spool_name in {p.name for p in (backup / "spool").iterdir()}
    # The worker's chore writes the erasure into the ledger beside the backups.
    chore = PERIODIC["backup"][1]
    chore(store, appliance.config, spool)
    ledger = json.loads((folder / LEDGER).read_text(encoding="utf-8"))
    assert [e["pseudonym"] for e in ledger["erasures"]] == [gone.pseudonym]
    assert gone.name not in (folder / LEDGER).read_text(encoding="utf-8")
    assert not store.jobs.has_open(JOB_KIND)  # the newest backup is fresh: none queued
    store.close()

    new = tmp_path / "restored"
    code_, out, err = run(appliance, "backup", "restore", str(backup), "--data-dir", str(new))
    assert code_ == 0, err
    assert f"restored {backup.name}" in out
    assert "re-applied 1 erasure(s) made after the backup" in out
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    assert [p.name for p in tmp_path.iterdir() if ".restoring-" in p.name] == []

    code_, out, err = run(appliance, "check", "--data-dir", str(new))
    assert code_ == 0, err
    assert out.strip() == "ok"

    restored = restored_store(new)
    try:
        new_spool = Spool(new / "spool")
        assert restored.candidates.get(kept.candidate_id).full_name == kept.name
        assert recording_bytes(restored, new_spool, kept) == kept.media
        # The erased person stays erased: no key, no recording, a completed tombstone.
        with pytest.raises(NotFoundError):
            restored.vault.key_for(gone.pseudonym)
        assert not (new / "spool" / gone.spool_name).exists()
        tombstone = ErasureRepository(restored).for_candidate(gone.candidate_id)
        assert tombstone is not None and tombstone.completed_at is not None
        assert tombstone.actor == "backup-restore"
        assert gone.name not in restored.candidates.get(gone.candidate_id).full_name
        [entry] = restored.audit.entries(action="backup.restored")
        assert entry.details["backup"] == backup.name and entry.details["reapplied"] == 1
        assert restored.audit.first_broken_link() is None
    finally:
        restored.close()


def test_restore_without_a_ledger_says_later_erasures_must_be_run_again(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    gone = add_person(appliance, store, tmp_path)
    folder = tmp_path / "backups"
    backup = create_backup(store, appliance.config, folder).path
    erase(store, appliance.spool(), gone)
    (folder / LEDGER).unlink()  # no worker kept it, say, and the folder lost it

    new = tmp_path / "restored"
    code, _, err = run(appliance, "backup", "restore", str(backup), "--data-dir", str(new))
    assert code == 0, err
    assert f"warning: no erasure ledger at {folder / LEDGER}" in err
    assert "are readable again in this restore" in err and "Erase each" in err
    # Which is the truth: the backup predates the erasure and still holds the key.
    restored = restored_store(new)
    try:
        assert restored.vault.key_for(gone.pseudonym)
    finally:
        restored.close()


def test_restore_refuses_an_altered_ledger(
    with_folder: tuple[Appliance, Path], tmp_path: Path
) -> None:
    appliance, folder = with_folder
    store = appliance.open_store()
    victim = add_person(appliance, store, tmp_path)
    backup = create_backup(store, appliance.config, folder).path
    store.close()
    # A line planted in the ledger would erase someone at restore: the signature stops it.
    ledger = json.loads((folder / LEDGER).read_text(encoding="utf-8"))
    ledger["erasures"].append(
        {"pseudonym": victim.pseudonym, "erased_at": ledger["written_at"], "request": None}
    )
    (folder / LEDGER).write_text(json.dumps(ledger), encoding="utf-8")

    new = tmp_path / "restored"
    code, _, err = run(appliance, "backup", "restore", str(backup), "--data-dir", str(new))
    assert code == 48
    assert "is not signed by this appliance's device key" in err
    assert not new.exists()


def test_a_hold_the_backup_still_shows_stops_the_reapplied_erasure_loudly(
    with_folder: tuple[Appliance, Path], tmp_path: Path
) -> None:
    appliance, folder = with_folder
    store = appliance.open_store()
    spool = appliance.spool()
    held = add_person(appliance, store, tmp_path)
    hold = place_hold(store, hr_admin(store), candidate_id=held.candidate_id, reason="a lawsuit")
    backup = create_backup(store, appliance.config, folder).path
    release_hold(store, hr_admin(store), hold.id)
    erase(store, spool, held)
    PERIODIC["backup"][1](store, appliance.config, spool)
    store.close()

    new = tmp_path / "restored"
    code, _, err = run(appliance, "backup", "restore", str(backup), "--data-dir", str(new))
    assert code == 48
    assert "could not be re-applied because the backup shows a legal hold" in err
    assert held.pseudonym in err
    restored = restored_store(new)  # restored all the same, the obligation named
    try:
        assert restored.vault.key_for(held.pseudonym)
    finally:
        restored.close()


def test_restore_refuses_an_existing_appliance_and_a_folder_in_use(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    backup = create_backup(store, appliance.config, tmp_path / "backups").path
    code, _, err = run(
        appliance, "backup", "restore", str(backup), "--data-dir", str(appliance.data_dir)
    )
    assert code == 10 and "holds an appliance" in err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("something else", encoding="utf-8")
    code, _, err = run(appliance, "backup", "restore", str(backup), "--data-dir", str(busy))
    assert code == 48 and "is not an empty folder" in err
    code, _, err = run(
        appliance,
        "backup",
        "restore",
        str(backup),
        "--data-dir",
        str(tmp_path / "fresh"),
        APPLIANCE_PASSPHRASE=WRONG,
    )
    assert code == 3 and "does not open" in err
    assert not (tmp_path / "fresh").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(appliance, "backup", "restore", str(backup), "--data-dir", str(empty))
    assert code == 0, err
    assert (empty / "appliance.toml").is_file()


# --- scheduled backups -------------------------------------------------------------------------


def test_the_worker_takes_a_scheduled_backup_when_one_is_due(
    with_folder: tuple[Appliance, Path],
) -> None:
    appliance, folder = with_folder
    store = appliance.open_store()
    try:
        chore = PERIODIC["backup"][1]
        queued = chore(store, appliance.config, appliance.spool())
        assert isinstance(queued, dict) and store.jobs.has_open(JOB_KIND)
        assert chore(store, appliance.config, appliance.spool()) is None  # one at a time
        outcome = Worker(appliance.config, store).run_once()
        assert outcome is not None and outcome.state == "succeeded"
        [backup] = complete_backups(folder)
        result = store.jobs.get(queued["queued"]).result
        assert result is not None and result["backup"] == backup.name
        assert chore(store, appliance.config, appliance.spool()) is None  # not due again yet
        assert not store.jobs.has_open(JOB_KIND)
    finally:
        store.close()
