"""Sealed keys, provisioning, rekeying, and the CLI's specific errors and exit codes."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from appliance.platform.errors import AlreadyProvisionedError, PassphraseError
from appliance.security.sealing import PassphraseSealer
from appliance.store.db import Database, checkpoint
from appliance.store.keyring import Keyset, unlock, write_envelope
from provisioning.provision import provision
from provisioning.rekey import change_passphrase, rotate_database_key

from .conftest import FAST_SCRYPT, PASSPHRASE, Appliance, make_appliance


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "appliance.lock"
    }


def test_sealed_envelope_holds_no_key_material(appliance: Appliance) -> None:
    text = appliance.config.paths.sealed_db_key.read_text()
    envelope = json.loads(text)
    assert envelope["sealer"] == "passphrase" and envelope["kdf"]["name"] == "scrypt"
    for key in (appliance.keyset.db, appliance.keyset.vault):
        assert key.hex() not in text and key.hex().upper() not in text
    for path in appliance.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert (
                appliance.keyset.db not in data and appliance.keyset.db.hex().encode() not in data
            )
    assert "<sealed>" in repr(appliance.keyset)
    assert (appliance.config.paths.sealed_db_key.stat().st_mode & 0o777) == 0o600


def test_wrong_passphrase_and_tampered_envelope(appliance: Appliance) -> None:
    with pytest.raises(PassphraseError, match="does not unseal"):
        unlock(appliance.config.paths, PassphraseSealer("not the passphrase", log2_n=FAST_SCRYPT))
    path = appliance.config.paths.sealed_db_key
    envelope = json.loads(path.read_text())
    envelope["kdf"]["log2_n"] = 15  # an attacker lowering the cost is detected (authenticated)
    write_envelope(path, envelope)
    with pytest.raises(PassphraseError):
        unlock(appliance.config.paths, PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT))


def test_cannot_provision_twice(appliance: Appliance) -> None:
    with pytest.raises(AlreadyProvisionedError):
        provision(appliance.config, PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT))


def test_change_passphrase(appliance: Appliance) -> None:
    old = PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT)
    new = PassphraseSealer("a brand new operator passphrase", log2_n=FAST_SCRYPT)
    change_passphrase(appliance.config, old, new)
    with pytest.raises(PassphraseError):
        unlock(appliance.config.paths, old)
    keyset = unlock(appliance.config.paths, new)
    assert keyset.db == appliance.keyset.db
    store = appliance.open_store()
    assert store.audit.entries(action="keys.passphrase_changed")
    store.close()


def test_rotate_database_key_keeps_data_and_a_restorable_backup(appliance: Appliance) -> None:
    store = appliance.open_store()
    with store.transaction():
        store.users.create("rotator", "Rot Ator", "recruiter")
    store.close()
    sealer = PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT)
    kept = rotate_database_key(appliance.config, sealer, sealer)
    fresh = unlock(appliance.config.paths, sealer)
    assert fresh.db != appliance.keyset.db and fresh.vault == appliance.keyset.vault
    conn = Database.open(appliance.config.paths.database, fresh.db).connect()
    assert conn.execute("SELECT count(*) FROM users WHERE username='rotator'").fetchone()[0] == 1
    conn.close()
    backups = appliance.config.paths.backups
    old_keys = unlock_backup(backups / kept.replace(".db", ".key.json"), sealer)
    assert old_keys.db == appliance.keyset.db
    old = Database.open(backups / kept, old_keys.db).connect()
    assert old.execute("SELECT count(*) FROM users WHERE username='rotator'").fetchone()[0] == 1
    old.close()


def unlock_backup(path: Path, sealer: PassphraseSealer) -> Keyset:
    return Keyset.from_secret(sealer.unseal(json.loads(path.read_text())))


def test_interrupted_rekey_is_completed_on_next_unlock(appliance: Appliance) -> None:
    """Crash after the database was re-encrypted but before the pending key was promoted."""
    paths, sealer = appliance.config.paths, PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT)
    fresh = appliance.keyset.with_new_db_key()
    database = Database.open(paths.database, appliance.keyset.db)
    conn = database.connect()
    checkpoint(conn)
    staged = paths.db_dir / "staged.db"
    database.export_to(conn, staged, fresh.db)
    conn.close()
    write_envelope(paths.pending_db_key, sealer.seal(fresh.to_secret()))
    staged.replace(paths.database)
    keyset = unlock(paths, sealer)
    assert keyset.db == fresh.db
    assert not paths.pending_db_key.exists()
    assert unlock(paths, sealer).db == fresh.db


def test_rekey_that_never_replaced_the_database_is_discarded(appliance: Appliance) -> None:
    paths, sealer = appliance.config.paths, PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT)
    write_envelope(
        paths.pending_db_key, sealer.seal(appliance.keyset.with_new_db_key().to_secret())
    )
    assert unlock(paths, sealer).db == appliance.keyset.db
    assert not paths.pending_db_key.exists()


@pytest.mark.slow
def test_cli_errors_have_specific_messages_and_exit_codes(
    appliance: Appliance, tmp_path: Path
) -> None:
    ok = appliance.cli("status")
    assert ok.returncode == 0, ok.stderr
    before = _tree_digest(appliance.data_dir)

    wrong = appliance.cli("status", APPLIANCE_PASSPHRASE="wrong passphrase entirely")
    assert wrong.returncode == 3 and "does not unseal" in wrong.stderr
    assert "Traceback" not in wrong.stderr

    missing = appliance.cli("status", APPLIANCE_PASSPHRASE="")
    assert missing.returncode == 3 and "no operator passphrase" in missing.stderr

    # The sealed key of another appliance: the passphrase works, the key does not fit.
    sealed = appliance.config.paths.sealed_db_key
    own_envelope = sealed.read_bytes()
    stranger = make_appliance(tmp_path / "other")
    shutil.copy(stranger.config.paths.sealed_db_key, sealed)
    wrong_key = appliance.cli("status")
    assert wrong_key.returncode == 4 and "key does not open" in wrong_key.stderr
    sealed.write_bytes(own_envelope)

    database = appliance.config.paths.database
    saved = database.read_bytes()
    database.write_bytes(saved[:-100])
    truncated = appliance.cli("status")
    assert truncated.returncode == 6 and "truncated" in truncated.stderr
    database.write_bytes(saved)

    database.unlink()
    plain = sqlite3.connect(database)
    plain.execute("CREATE TABLE users (name)")
    plain.commit()
    plain.close()
    plain_bytes = database.read_bytes()
    refused = appliance.cli("status")
    assert refused.returncode == 5 and "unencrypted" in refused.stderr
    assert database.read_bytes() == plain_bytes
    database.write_bytes(saved)

    assert _tree_digest(appliance.data_dir) == before
    assert appliance.cli("check").returncode == 0


@pytest.mark.slow
def test_cli_rekey_round_trip(appliance: Appliance, tmp_path: Path) -> None:
    new_file = tmp_path / "new-pass"
    new_file.write_text("the replacement passphrase\n")
    new_file.chmod(0o600)
    changed = appliance.cli("rekey", "--new-passphrase-file", str(new_file))
    assert changed.returncode == 0, changed.stderr
    assert appliance.cli("status").returncode == 3
    env_new = {"APPLIANCE_PASSPHRASE": "the replacement passphrase"}
    assert appliance.cli("status", **env_new).returncode == 0
    rotated = appliance.cli("rekey", "--rotate-db-key", **env_new)
    assert rotated.returncode == 0, rotated.stderr
    assert appliance.cli("check", **env_new).returncode == 0
    loose = tmp_path / "loose-pass"
    loose.write_text("world readable passphrase\n")
    loose.chmod(0o644)
    refused = appliance.cli("rekey", "--new-passphrase-file", str(loose), **env_new)
    assert refused.returncode == 3 and "chmod 600" in refused.stderr
