"""The tamper-evident audit log (ALL-3): hash chain, signed checkpoints, offline verification.

Every attack here is done the way someone holding the database key would: straight into the
encrypted database, dropping the append-only triggers first.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from appliance.audit.chain import (
    EXIT_TAMPERED,
    AuditChainError,
    checkpoint_message,
    key_fingerprint,
    make_checkpoint,
    maybe_checkpoint,
    verify_chain,
    verify_store,
)
from appliance.audit.log_export import export_log, verify_export, verify_export_text
from appliance.hiring.review import log_candidate_read
from appliance.platform.clock import utcnow
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.audit import entry_hash
from appliance.store.checkpoints import CheckpointRepository
from appliance.store.db import IntegrityError

from .conftest import REPO, Appliance, demo_interview

TRIGGERS = (
    "audit_log_no_update",
    "audit_log_no_delete",
    "audit_checkpoints_no_update",
    "audit_checkpoints_no_delete",
)


def _fill_to(store: Store, seq: int, *, subject: str = "cand-0000000000000000") -> None:
    """Append entries until the newest has `seq`."""
    head = CheckpointRepository(store).head()
    start = head.seq if head else 0
    assert start <= seq
    with store.transaction():
        for n in range(start + 1, seq + 1):
            store.audit.append("user:1", "candidate.read", subject=subject, details={"n": n})


def _log_with_checkpoints(store: Store) -> None:
    """Entries 1..50 with signed checkpoints at 30 and 45."""
    _fill_to(store, 30)
    assert make_checkpoint(store).seq == 30
    _fill_to(store, 45)
    assert make_checkpoint(store).seq == 45
    _fill_to(store, 50)


def _attack(store: Store, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Drop the append-only triggers and change rows, as an attacker with the key would."""
    for trigger in TRIGGERS:
        store.conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for sql, params in statements:
        store.conn.execute(sql, params)


def _rehash_from(store: Store, seq: int) -> None:
    """Recompute every hash from `seq` on, so the chain is internally consistent again."""
    rows = store.conn.execute("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq", (seq,))
    rows = rows.fetchall()
    prev = store.conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq - 1,)).fetchone()
    prev_hash = prev["hash"]
    for row in rows:
        digest = entry_hash(
            prev_hash, row["at"], row["actor"], row["action"], row["subject"], row["details"]
        )
        _attack(
            store,
            (
                "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                (prev_hash, digest, row["seq"]),
            ),
        )
        prev_hash = digest


# --- the intact log ---------------------------------------------------------------------------


def test_intact_log_with_checkpoints_verifies(store: Store) -> None:
    _log_with_checkpoints(store)
    result = verify_store(store)
    assert result.ok, result.message
    assert result.message == "ok: 50 entries, last checkpoint at seq 45"
    assert (result.entries, result.checkpoints, result.last_seq) == (50, 2, 50)
    assert result.kind is None


def test_log_without_checkpoint_verifies_and_says_so(store: Store) -> None:
    _fill_to(store, 5)
    assert verify_store(store).message == "ok: 5 entries, no checkpoint yet"


def test_checkpoints_are_append_only(store: Store) -> None:
    _fill_to(store, 3)
    make_checkpoint(store)
    with pytest.raises(IntegrityError, match="append-only"):
        store.conn.execute("UPDATE audit_checkpoints SET seq = 2")
    with pytest.raises(IntegrityError, match="append-only"):
        store.conn.execute("DELETE FROM audit_checkpoints")
    assert len(CheckpointRepository(store).all()) == 1


def test_checkpoint_needs_the_device_key_and_entries(appliance: Appliance, store: Store) -> None:
    keyless = Store(store.database, store.vault_database)
    with pytest.raises(AuditChainError, match="device signing key"):
        make_checkpoint(keyless)
    assert maybe_checkpoint(keyless) is None
    keyless.close()


# --- tampering in the encrypted database ------------------------------------------------------


def test_updated_field_is_named_altered(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(store, ("UPDATE audit_log SET actor = 'user:999' WHERE seq = 17", ()))
    result = verify_store(store)
    assert (result.ok, result.kind, result.seq) == (False, "altered", 17)
    assert result.message == "entry 17 was altered"


def test_altered_details_is_named_altered(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(store, ("UPDATE audit_log SET details = '{\"n\":0}' WHERE seq = 33", ()))
    result = verify_store(store)
    assert (result.kind, result.seq) == ("altered", 33)


def test_deleted_rows_are_named_removed(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(store, ("DELETE FROM audit_log WHERE seq BETWEEN 18 AND 20", ()))
    result = verify_store(store)
    assert (result.kind, result.seq, result.end_seq) == ("removed", 18, 20)
    assert result.message == "entries 18\u201320 were removed"


def test_one_deleted_row_is_named_removed(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(store, ("DELETE FROM audit_log WHERE seq = 1", ()))
    result = verify_store(store)
    assert (result.kind, result.seq, result.message) == ("removed", 1, "entry 1 was removed")


def test_swapped_seqs_are_named_reordered(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(
        store,
        ("UPDATE audit_log SET seq = -12 WHERE seq = 12", ()),
        ("UPDATE audit_log SET seq = 12 WHERE seq = 13", ()),
        ("UPDATE audit_log SET seq = 13 WHERE seq = -12", ()),
    )
    result = verify_store(store)
    assert (result.kind, result.seq) == ("reordered", 12)
    assert result.message == "entry 12 is out of order"


def test_deleted_tail_after_a_checkpoint_is_named_truncated(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(store, ("DELETE FROM audit_log WHERE seq > 40", ()))
    result = verify_store(store)
    assert (result.kind, result.seq, result.checkpoint_seq) == ("truncated", 41, 45)
    assert result.message == "the log was truncated after entry 40; checkpoint covers 45"
    assert result.last_checkpoint_seq == 30


def test_truncated_and_regrown_log_is_named_truncated(store: Store) -> None:
    """Cut back to 40, reset the counter and append again: the chain is whole, 45 differs."""
    _log_with_checkpoints(store)
    _attack(
        store,
        ("DELETE FROM audit_log WHERE seq > 40", ()),
        ("UPDATE sqlite_sequence SET seq = 40 WHERE name = 'audit_log'", ()),
    )
    _fill_to(store, 50, subject="cand-ffffffffffffffff")
    result = verify_store(store)
    assert (result.kind, result.checkpoint_seq) == ("truncated", 45)
    assert result.message == (
        "the log was truncated after entry 30 and rewritten; "
        "the checkpoint at seq 45 does not match entry 45"
    )


def test_rewritten_and_rehashed_chain_is_caught_by_the_checkpoint(store: Store) -> None:
    """With the database key but not the device key, re-chaining cannot fool the signature."""
    _log_with_checkpoints(store)
    _attack(store, ("UPDATE audit_log SET actor = 'user:999' WHERE seq = 35", ()))
    _rehash_from(store, 35)
    assert store.audit.first_broken_link() is None  # the plain chain is fooled
    result = verify_store(store)
    assert (result.ok, result.kind, result.checkpoint_seq) == (False, "truncated", 45)
    assert result.seq == 31  # after the last checkpoint that still matches


def test_rehashed_chain_before_the_first_checkpoint_is_named(store: Store) -> None:
    _fill_to(store, 10)
    make_checkpoint(store)
    _attack(store, ("UPDATE audit_log SET subject = 'cand-x' WHERE seq = 5", ()))
    _rehash_from(store, 5)
    result = verify_store(store)
    assert (result.kind, result.seq, result.checkpoint_seq) == ("truncated", 1, 10)
    assert result.message == (
        "the log was rewritten; the checkpoint at seq 10 does not match entry 10"
    )


def test_altered_and_rehashed_single_entry_breaks_the_next_link(store: Store) -> None:
    _log_with_checkpoints(store)
    row = store.conn.execute("SELECT * FROM audit_log WHERE seq = 17").fetchone()
    forged = entry_hash(
        row["prev_hash"], row["at"], "user:999", row["action"], row["subject"], row["details"]
    )
    _attack(store, ("UPDATE audit_log SET actor = 'user:999', hash = ? WHERE seq = 17", (forged,)))
    result = verify_store(store)
    assert (result.kind, result.seq) == ("removed", 18)
    assert "before entry 18" in result.message


def test_altered_checkpoint_signature_is_named_bad_signature(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(
        store,
        ("UPDATE audit_checkpoints SET signature = ? WHERE seq = 45", ("00" * 64,)),
    )
    result = verify_store(store)
    assert (result.kind, result.seq, result.checkpoint_seq) == ("bad_signature", 45, 45)
    assert result.message == "the checkpoint at seq 45 has an invalid signature"


def test_altered_checkpoint_field_is_named_bad_signature(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(store, ("UPDATE audit_checkpoints SET seq = 40 WHERE seq = 45", ()))
    result = verify_store(store)
    assert (result.kind, result.checkpoint_seq) == ("bad_signature", 40)


def test_checkpoint_forged_with_another_key_is_named_bad_signature(store: Store) -> None:
    """An attacker cuts the log back and signs a new checkpoint with a key of their own."""
    _log_with_checkpoints(store)
    other = Ed25519PrivateKey.generate()
    fingerprint = key_fingerprint(other.public_key())
    head = store.conn.execute("SELECT seq, hash FROM audit_log WHERE seq = 50").fetchone()
    message = checkpoint_message(
        seq=50,
        hash=head["hash"],
        entry_count=50,
        created_at="2030-01-01T00:00:00.000000Z",
        key_fingerprint=fingerprint,
    )
    with store.transaction():
        CheckpointRepository(store).add(
            seq=50,
            hash=head["hash"],
            entry_count=50,
            created_at="2030-01-01T00:00:00.000000Z",
            signature=other.sign(message).hex(),
            key_fingerprint=fingerprint,
        )
    result = verify_store(store)
    assert (result.kind, result.checkpoint_seq) == ("bad_signature", 50)
    assert "signed by another key" in result.message


def test_the_first_problem_is_reported(store: Store) -> None:
    _log_with_checkpoints(store)
    _attack(
        store,
        ("DELETE FROM audit_log WHERE seq > 40", ()),
        ("UPDATE audit_log SET action = 'x' WHERE seq = 25", ()),
        ("DELETE FROM audit_log WHERE seq = 10", ()),
    )
    assert (verify_store(store).kind, verify_store(store).seq) == ("removed", 10)


# --- the offline export -----------------------------------------------------------------------


def _exported(store: Store, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    _log_with_checkpoints(store)
    path = export_log(store, tmp_path / "audit.jsonl")
    return path, [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _index(records: list[dict[str, Any]], seq: int) -> int:
    return next(i for i, r in enumerate(records) if r["type"] == "entry" and r["seq"] == seq)


def test_export_verifies_offline_and_is_covered_by_a_checkpoint(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    path, records = _exported(store, tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    header = records[0]
    assert header["type"] == "header"
    published = appliance.config.paths.device_public_key.read_bytes()
    assert header["public_key_pem"].encode() == published
    entries = [r for r in records if r["type"] == "entry"]
    assert entries[-1]["action"] == "audit.exported"  # the export is itself logged
    result = verify_export(path, appliance.config.paths.device_public_key.read_bytes())
    assert result.ok, result.message
    assert result.message == "ok: 51 entries, last checkpoint at seq 51"
    assert verify_export(path).ok  # against the key inside the file


@pytest.mark.parametrize(
    ("tamper", "kind", "message"),
    [
        ("field", "altered", "entry 17 was altered"),
        ("delete", "removed", "entries 18\u201320 were removed"),
        ("swap", "reordered", "entry 13 is out of order"),
        ("swap_seq", "reordered", "entry 12 is out of order"),
        ("tail", "truncated", "the log was truncated after entry 40; checkpoint covers 51"),
        ("signature", "bad_signature", "the checkpoint at seq 45 has an invalid signature"),
    ],
)
def test_tampered_export_names_the_first_problem(
    appliance: Appliance, store: Store, tmp_path: Path, tamper: str, kind: str, message: str
) -> None:
    path, records = _exported(store, tmp_path)
    if tamper == "field":
        records[_index(records, 17)]["subject"] = "cand-1111111111111111"
    elif tamper == "delete":
        del records[_index(records, 18) : _index(records, 20) + 1]
    elif tamper == "swap":
        i = _index(records, 12)
        records[i], records[i + 1] = records[i + 1], records[i]
    elif tamper == "swap_seq":
        i, j = _index(records, 12), _index(records, 13)
        records[i]["seq"], records[j]["seq"] = 13, 12
        records[i], records[j] = records[j], records[i]
    elif tamper == "tail":
        records = [r for r in records if r["type"] != "entry" or r["seq"] <= 40]
    elif tamper == "signature":
        cp = next(r for r in records if r["type"] == "checkpoint" and r["seq"] == 45)
        cp["signature"] = cp["signature"][:-2] + ("00" if cp["signature"][-2:] != "00" else "11")
    result = verify_export(_write(path, records), appliance.config.paths.device_public_key)
    assert (result.ok, result.kind, result.message) == (False, kind, message)


def test_export_resigned_with_another_key_fails_against_the_device_key(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    path, records = _exported(store, tmp_path)
    other = Ed25519PrivateKey.generate()
    fingerprint = key_fingerprint(other.public_key())
    records[0]["public_key_pem"] = (
        other.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    )
    for record in records:
        if record["type"] == "checkpoint":
            record["key_fingerprint"] = fingerprint
            record["signature"] = other.sign(
                checkpoint_message(
                    seq=record["seq"],
                    hash=record["hash"],
                    entry_count=record["entry_count"],
                    created_at=record["created_at"],
                    key_fingerprint=fingerprint,
                )
            ).hex()
    seal = records[0]["seal"]
    seal["key_fingerprint"] = fingerprint
    signed = "appliance-audit-export/v1\n" + json.dumps(seal, sort_keys=True, separators=(",", ":"))
    records[0]["seal_signature"] = other.sign(signed.encode()).hex()
    _write(path, records)
    assert verify_export(path).ok  # self-consistent: why the device key must come separately
    result = verify_export(path, appliance.config.paths.device_public_key.read_bytes())
    assert result.kind == "bad_signature" and "another key" in result.message


@pytest.mark.parametrize(
    ("tamper", "kind", "message"),
    [
        ("tail", "truncated", "the export was truncated after entry 40; its seal covers 51"),
        ("checkpoint", "removed", "the export holds 2 checkpoints; its seal covers 3"),
        ("extra", "altered", "entry 52 is not covered by the export's seal"),
        ("seal", "bad_signature", "the export's seal is missing or has an invalid signature"),
    ],
)
def test_export_seal_catches_what_the_chain_alone_cannot(
    appliance: Appliance, store: Store, tmp_path: Path, tamper: str, kind: str, message: str
) -> None:
    path, records = _exported(store, tmp_path)
    if tamper == "tail":  # entries and the checkpoints that covered them
        records = [r for r in records if r["type"] == "header" or r["seq"] <= 40]
    elif tamper == "checkpoint":
        records = [r for r in records if r["type"] != "checkpoint" or r["seq"] != 30]
    elif tamper == "extra":
        last = records[_index(records, 51)]
        at, actor, action = last["at"], "user:1", "candidate.read"
        digest = entry_hash(last["hash"], at, actor, action, None, "{}")
        extra = {
            "type": "entry",
            "seq": 52,
            "at": at,
            "actor": actor,
            "action": action,
            "subject": None,
            "details": "{}",
            "prev_hash": last["hash"],
            "hash": digest,
        }
        records.insert(_index(records, 51) + 1, extra)
    elif tamper == "seal":
        del records[0]["seal_signature"]
    result = verify_export(_write(path, records), appliance.config.paths.device_public_key)
    assert (result.ok, result.kind, result.message) == (False, kind, message)


def test_malformed_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(AuditChainError, match="line 1"):
        verify_export(path)
    with pytest.raises(AuditChainError, match="not an audit export"):
        verify_export_text('{"type": "entry"}\n')


def test_verify_chain_works_on_plain_data(appliance: Appliance, store: Store) -> None:
    _fill_to(store, 4)
    make_checkpoint(store)
    entries = [dict(vars(e)) for e in CheckpointRepository(store).chain()]
    checkpoints = [dict(vars(c)) for c in CheckpointRepository(store).all()]
    pem = appliance.config.paths.device_public_key.read_text()
    assert verify_chain(entries, checkpoints, pem).ok
    assert verify_chain(entries[:-1], checkpoints, pem).kind == "truncated"
    assert verify_chain([], [], pem).message == "ok: 0 entries, no checkpoint yet"


# --- periodic checkpoints ---------------------------------------------------------------------


def test_maybe_checkpoint_by_entries_and_by_time(store: Store) -> None:
    _fill_to(store, 3)
    first = maybe_checkpoint(store, every_entries=10, every_seconds=3600)
    assert first is not None and first.seq == 3  # the first one comes at once
    assert maybe_checkpoint(store, every_entries=10, every_seconds=3600) is None  # unchanged
    _fill_to(store, 12)
    assert maybe_checkpoint(store, every_entries=10, every_seconds=3600) is None  # 9 new
    _fill_to(store, 13)
    made = maybe_checkpoint(store, every_entries=10, every_seconds=3600)
    assert made is not None and made.seq == 13
    _fill_to(store, 14)
    assert maybe_checkpoint(store, every_entries=10, every_seconds=3600) is None
    later = utcnow() + timedelta(hours=2)
    made = maybe_checkpoint(store, every_entries=10, every_seconds=3600, now=later)
    assert made is not None and made.seq == 14
    assert verify_store(store).message == "ok: 14 entries, last checkpoint at seq 14"


# --- the device key ---------------------------------------------------------------------------


def test_checkpoint_signature_verifies_with_the_published_pem(
    appliance: Appliance, store: Store
) -> None:
    """An outside verifier needs only `cryptography`, the PEM and the documented message."""
    _fill_to(store, 7)
    made = make_checkpoint(store)
    public = load_pem_public_key(appliance.config.paths.device_public_key.read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert made.key_fingerprint == hashlib.sha256(raw).hexdigest()
    body = {
        "created_at": made.created_at,
        "entry_count": made.entry_count,
        "hash": made.hash,
        "key_fingerprint": made.key_fingerprint,
        "seq": made.seq,
    }
    message = "appliance-audit-checkpoint/v1\n" + json.dumps(
        body, sort_keys=True, separators=(",", ":")
    )
    public.verify(bytes.fromhex(made.signature), message.encode("utf-8"))  # raises if invalid
    head = store.conn.execute("SELECT hash FROM audit_log WHERE seq = 7").fetchone()
    assert made.hash == head["hash"]


# --- ALL-3 and erasure ------------------------------------------------------------------------


def test_ALL_3_every_read_of_candidate_data_is_logged_and_the_log_is_tamper_evident(
    store: Store,
) -> None:
    interview = store.interviews.get(demo_interview(store))
    pseudonym = store.candidates.get(interview.candidate_id).pseudonym
    reader = Principal(7, "hr.reader", "hr_admin", ("Engineering",), ("EU",))
    log_candidate_read(store, reader, pseudonym, "report")
    read = store.audit.entries(action="candidate.read")[-1]
    assert (read.actor, read.subject, read.details) == ("user:7", pseudonym, {"what": "report"})
    assert read.at  # when
    make_checkpoint(store)
    assert verify_store(store).ok
    # Hide who read it: the log names the altered entry.
    _attack(store, ("UPDATE audit_log SET actor = 'user:1' WHERE seq = ?", (read.seq,)))
    result = verify_store(store)
    assert (result.kind, result.seq) == ("altered", read.seq)
    assert result.message == f"entry {read.seq} was altered"


def test_ALL_3_deleting_a_read_record_is_evident(store: Store) -> None:
    interview = store.interviews.get(demo_interview(store))
    pseudonym = store.candidates.get(interview.candidate_id).pseudonym
    reader = Principal(7, "hr.reader", "hr_admin", (), ())
    log_candidate_read(store, reader, pseudonym, "recording")
    seq = store.audit.entries(action="candidate.read")[-1].seq
    make_checkpoint(store)
    _attack(store, ("DELETE FROM audit_log WHERE seq = ?", (seq,)))
    result = verify_store(store)
    assert result.kind == "truncated"  # it was the newest entry, covered by the checkpoint
    assert result.message == f"the log was truncated after entry {seq - 1}; checkpoint covers {seq}"


def test_erasing_a_candidate_leaves_the_chain_verifiable(store: Store, tmp_path: Path) -> None:
    """The log names pseudonyms only: erasing the person touches nothing the chain covers."""
    interview = store.interviews.get(demo_interview(store, name="Erika Mustermann"))
    candidate = store.candidates.get(interview.candidate_id)
    reader = Principal(3, "hr.one", "hr_admin", (), ())
    for what in ("report", "recording", "transcript"):
        log_candidate_read(store, reader, candidate.pseudonym, what)
    make_checkpoint(store)
    before = verify_store(store)
    assert before.ok
    # Simulated erasure: shred the candidate's data key and blank the personal fields.
    store.vault.shred(candidate.pseudonym)
    with store.transaction():
        store.conn.execute(
            "UPDATE candidates SET full_name = '[erased]', email = NULL, phone = NULL WHERE id = ?",
            (candidate.id,),
        )
    with store.transaction():
        store.audit.append("operator", "candidate.erased", subject=candidate.pseudonym)
    after = verify_store(store)
    assert after.ok, after.message
    text = export_log(store, tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert candidate.pseudonym in text
    assert "Erika" not in text and "Mustermann" not in text
    assert "candidate@example.invalid" not in text
    assert verify_export_text(text).ok


# --- the command line -------------------------------------------------------------------------


def test_cli_verify_ok_and_tampered(appliance: Appliance) -> None:
    store = appliance.open_store()
    try:
        _log_with_checkpoints(store)
    finally:
        store.close()
    done = appliance.cli("audit", "verify")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok: 50 entries, last checkpoint at seq 45"
    store = appliance.open_store()
    try:
        _attack(store, ("UPDATE audit_log SET action = 'nothing' WHERE seq = 17", ()))
    finally:
        store.close()
    done = appliance.cli("audit", "verify")
    assert done.returncode == EXIT_TAMPERED == 21
    assert done.stdout.strip() == "entry 17 was altered"
    done = appliance.cli("audit", "verify", "--json")
    assert done.returncode == 21
    assert json.loads(done.stdout)["kind"] == "altered"


def test_cli_truncated_and_removed_messages(appliance: Appliance) -> None:
    store = appliance.open_store()
    try:
        _log_with_checkpoints(store)
        _attack(store, ("DELETE FROM audit_log WHERE seq > 40", ()))
    finally:
        store.close()
    done = appliance.cli("audit", "verify")
    assert (done.returncode, done.stdout.strip()) == (
        21,
        "the log was truncated after entry 40; checkpoint covers 45",
    )


def test_cli_checkpoint_export_and_offline_verify(appliance: Appliance, tmp_path: Path) -> None:
    store = appliance.open_store()
    try:
        _fill_to(store, 10)
    finally:
        store.close()
    done = appliance.cli("audit", "checkpoint")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("checkpoint at seq 10 (10 entries)")
    out = tmp_path / "audit.jsonl"
    done = appliance.cli("audit", "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    # Offline: no config, no passphrase in the environment, the device's published key.
    env = {k: v for k, v in appliance.env().items() if k != "APPLIANCE_PASSPHRASE"}
    offline = [sys.executable, "-m", "appliance", "audit", "verify", "--export", str(out)]
    pem = str(appliance.config.paths.device_public_key)
    done = subprocess.run(
        [*offline, "--public-key", pem],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok: 11 entries, last checkpoint at seq 11"
    # With --config (as `.cli` adds), the appliance's published key is used: no passphrase.
    done = appliance.cli("audit", "verify", "--export", str(out), APPLIANCE_PASSPHRASE="")
    assert (done.returncode, done.stdout.strip()) == (
        0,
        "ok: 11 entries, last checkpoint at seq 11",
    )
    assert "key inside the export" not in done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    del lines[2]  # the second entry
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [*offline, "--public-key", pem],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (21, "entry 2 was removed")
    done = subprocess.run(
        offline, env=env, capture_output=True, text=True, cwd=REPO, timeout=60, check=False
    )
    assert done.returncode == 21
    assert "key inside the export" in done.stderr
