"""The canary test: personal data, media and keys never reach a file (or a log) in clear,
and once a candidate is erased nothing of theirs can be read, backups included.

A candidate, a competency model, a recording and an audit entry all carry a unique canary; the
recording goes through the real ingest path and the real worker (decrypt, probe, report).  Then
every file the appliance could have written is read byte by byte: the whole data directory
(databases *with their live WAL and shm*, spool, keys, backups, tmp, run), the worker's scratch
roots and whatever appeared in the system temp folder during the test.  Neither the canary (as
UTF-8, UTF-16 or the raw bytes planted in the audio) nor any key may be found.

The files are read from a forked child process, as an attacker reading the disk would: closing
a file descriptor of a database in *this* process would drop the POSIX locks its SQLite
connections hold, and the WAL must be scanned exactly as the running appliance leaves it.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import appliance.jobs.worker as worker_module
from appliance.accounts.auth import principal_of
from appliance.jobs.worker import Worker, scratch_dirs
from appliance.media.recordings import ingest_recording
from appliance.platform.scratch import make_scratch
from appliance.privacy.erasure import erase_candidate
from appliance.privacy.subject_export import subject_export
from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from appliance.store.db import PLAIN_SQLITE_HEADER, Database
from appliance.store.migrate import backup
from tests.support.plaintext_scan import READ_BLOCK, regular_files, scan_in_child

from .conftest import Appliance, make_user, write_wav

RECORDING_SECONDS = 1.0


@dataclass(frozen=True)
class Canary:
    """A text and a byte pattern that exist nowhere else."""

    text: str
    marker: bytes

    @classmethod
    def fresh(cls) -> Canary:
        return cls("Canary-" + secrets.token_hex(8), b"CANARYBYTES" + os.urandom(21))


@dataclass
class Flow:
    """What one run of the ingest-and-analyse flow left behind."""

    canary: Canary
    store: Store
    candidate_key: bytes
    candidate_pseudonym: str
    job_id: int
    scratch_folders: list[Path] = field(default_factory=list)
    tempdir_before: dict[str, int] = field(default_factory=dict)


# --- The flow ----------------------------------------------------------------------------------


def run_flow(
    appliance: Appliance,
    work_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    candidate_only: bool = False,
) -> Flow:
    """Candidate, model, requisition, interview, recording, worker run, audit: all with a canary.

    `candidate_only`: the canary is only in the candidate's own data (not in the competency
    model, which is nobody's personal data, nor in the append-only audit log, which by rule
    never holds personal data), so an erasure must leave none of it readable anywhere.
    """
    canary = Canary.fresh()
    tempdir_before = regular_files(Path(tempfile.gettempdir()))
    store = appliance.open_store()
    try:
        return _exercise(
            appliance, store, canary, tempdir_before, work_dir, monkeypatch, candidate_only
        )
    except BaseException:
        store.close()
        raise


def _exercise(
    appliance: Appliance,
    store: Store,
    canary: Canary,
    tempdir_before: dict[str, int],
    work_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    candidate_only: bool,
) -> Flow:
    planted = "someone" if candidate_only else canary.text
    with store.transaction():
        model = store.competency.save(
            ModelSpec(
                "Backend engineering",
                (
                    DimensionSpec(
                        "ownership",
                        "Ownership",
                        1.0,
                        questions=(Question("en", f"Tell us how {planted} handled an outage."),),
                    ),
                ),
            )
        )
        requisition = store.requisitions.create(
            "Engineer", "Engineering", "Berlin", "EU", competency_model_id=model.id
        )
    candidate = store.candidates.create(
        f"{canary.text} Mustermann",
        email=f"{canary.text}@example.invalid",
        phone=f"+49 30 {canary.text}",
    )
    interview = store.interviews.create(candidate.id, requisition.id)

    # The upload exists in clear only in memory: its source file is gone before anything runs.
    source = work_dir / "upload" / "interview.wav"
    source.parent.mkdir()
    write_wav(source, RECORDING_SECONDS, marker=canary.marker)
    media = source.read_bytes()
    source.unlink()
    assert canary.marker in media
    ingested = ingest_recording(
        store,
        appliance.spool(),
        appliance.config,
        interview_id=interview.id,
        source=io.BytesIO(media),
        filename=f"{canary.text}.wav",
        content_type="audio/wav",
        actor="user:1",
    )

    scratch_folders: list[Path] = []

    def recording_make_scratch(root: Path, label: str) -> Path:
        folder = make_scratch(root, label)
        scratch_folders.append(folder)
        return folder

    monkeypatch.setattr(worker_module, "make_scratch", recording_make_scratch)
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded", outcome
    with store.transaction():
        store.audit.append(
            "user:1",
            "candidate.viewed",
            subject=candidate.pseudonym,
            details={"note": f"profile of {planted} opened"},
        )

    # The canary really is in the store (so finding none on disk means it is encrypted there).
    assert store.candidates.get(candidate.id).full_name.startswith(canary.text)
    assert store.recordings.get(ingested.recording.id).display_name == f"{canary.text}.wav"
    reports = store.reports.for_interview(interview.id)
    assert len(reports) == 1
    assert reports[0].content["media"]["duration_s"] == pytest.approx(RECORDING_SECONDS, abs=0.1)
    assert store.interviews.get(interview.id).status == "analysed"
    return Flow(
        canary,
        store,
        store.vault.key_for(candidate.pseudonym),
        candidate.pseudonym,
        ingested.job.id,
        scratch_folders,
        tempdir_before,
    )


@pytest.fixture
def flow(appliance: Appliance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flow]:
    ran = run_flow(appliance, tmp_path, monkeypatch)
    yield ran
    ran.store.close()


def needles_of(flow: Flow, appliance: Appliance) -> dict[str, bytes]:
    """Everything that must never be found in a file."""
    keys = {
        "db key": appliance.keyset.db,
        "vault key": appliance.keyset.vault,
        "candidate key": flow.candidate_key,
    }
    found = {
        "canary utf-8": flow.canary.text.encode("utf-8"),
        "canary utf-16-le": flow.canary.text.encode("utf-16-le"),
        "canary utf-16-be": flow.canary.text.encode("utf-16-be"),
        "canary bytes": flow.canary.marker,
    }
    for label, key in keys.items():
        found[label] = key
        found[f"{label} hex"] = key.hex().encode("ascii")
        found[f"{label} HEX"] = key.hex().upper().encode("ascii")
    return found


def files_to_scan(appliance: Appliance, flow: Flow) -> list[str]:
    """The data dir, the scratch roots and what is new or changed in the temp folder."""
    paths = set(regular_files(appliance.data_dir))
    for root in scratch_dirs(appliance.config):
        paths.update(regular_files(root))
    after = regular_files(Path(tempfile.gettempdir()))
    paths.update(
        path
        for path, mtime in after.items()
        if flow.tempdir_before.get(path) != mtime and not _other_test_process(path)
    )
    return sorted(paths)


def _other_test_process(path: str | Path) -> bool:
    """A file in another pytest-xdist process's own folder (its tests' fixtures, not ours)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return bool(worker) and any(
        part.startswith("popen-gw") and part != f"popen-{worker}" for part in Path(path).parts
    )


def assert_encrypted_headers(appliance: Appliance) -> None:
    for database in (appliance.config.paths.database, appliance.config.paths.vault):
        with open(database, "rb") as handle:  # header only; scanned files are read elsewhere
            header = handle.read(len(PLAIN_SQLITE_HEADER))
        assert len(header) == len(PLAIN_SQLITE_HEADER), f"{database} is too short"
        assert header != PLAIN_SQLITE_HEADER, f"{database} is a plain SQLite file"


# --- Tests -------------------------------------------------------------------------------------


def test_scanner_finds_planted_canaries(tmp_path: Path) -> None:
    """The scanner is not blind: it finds needles anywhere, across blocks, in the child."""
    needle_text, needle_bytes = "Canary-" + secrets.token_hex(8), os.urandom(32)
    needles = {"text": needle_text.encode("utf-16-le"), "bytes": needle_bytes}
    straddling = tmp_path / "deep" / "er" / "straddling.bin"
    straddling.parent.mkdir(parents=True)
    straddling.write_bytes(os.urandom(READ_BLOCK - 10) + needle_bytes + os.urandom(100))
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"x" * 5 + needle_text.encode("utf-16-le"))
    clean = tmp_path / "clean.bin"
    clean.write_bytes(os.urandom(4096))
    (tmp_path / "link").symlink_to(plain)
    paths = sorted(regular_files(tmp_path))
    assert str(tmp_path / "link") not in paths
    assert scan_in_child(paths, needles) == sorted(
        [(str(straddling), "bytes"), (str(plain), "text")]
    )


def test_no_plaintext_on_disk(appliance: Appliance, flow: Flow) -> None:
    needles = needles_of(flow, appliance)
    paths = appliance.config.paths
    # The WAL is scanned live, exactly as the running appliance leaves it: no checkpoint.
    for database in (paths.database, paths.vault):
        wal = database.with_name(database.name + "-wal")
        assert wal.exists() and wal.stat().st_size > 0, f"{wal.name} should hold the changes"
    assert_encrypted_headers(appliance)
    # The job's scratch folder was used and wiped; nothing job-like is left in our own tmp.
    assert len(flow.scratch_folders) == 1
    assert flow.scratch_folders[0].name.startswith(f"job{flow.job_id}-")
    assert not flow.scratch_folders[0].exists(), "the job's scratch folder was not wiped"
    assert sorted(paths.tmp.glob("job*")) == []
    # (Other appliances' tests may run jobs in the shared /dev/shm root right now, so there
    # the check is on this job's own folder, above.)

    open_files = files_to_scan(appliance, flow)
    assert any(path.endswith("appliance.db-wal") for path in open_files)
    assert any(path.endswith(".spool") for path in open_files)
    assert scan_in_child(open_files, needles) == []

    flow.store.close()  # the last connections: SQLite folds the WAL in on its own
    assert_encrypted_headers(appliance)
    closed_files = files_to_scan(appliance, flow)
    assert any(path.endswith("appliance.db") for path in closed_files)
    assert scan_in_child(closed_files, needles) == []


def test_no_canary_in_logs(
    appliance: Appliance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ran = run_flow(appliance, tmp_path, monkeypatch)
    try:
        forbidden = [
            ran.canary.text,
            appliance.keyset.db.hex(),
            appliance.keyset.vault.hex(),
            ran.candidate_key.hex(),
        ]
        records = list(caplog.records)
        # The flow did log (so an empty capture cannot pass for a clean one).
        assert any(record.name == "appliance.media.recordings" for record in records)
        assert any(
            record.name == "appliance.jobs.worker" and "succeeded" in record.getMessage()
            for record in records
        )
        leaks: list[str] = []
        for record in records:
            texts = [record.getMessage(), str(record.msg), repr(record.args), record.exc_text or ""]
            if record.exc_info:
                texts.append(logging.Formatter().formatException(record.exc_info))
            leaks.extend(
                f"{record.name}:{record.lineno}"
                for secret in forbidden
                if any(secret in text for text in texts)
            )
        assert leaks == [], f"personal data or keys logged at {leaks}"
        assert ran.canary.text not in caplog.text
    finally:
        ran.store.close()


def _dump_database(path: Path, key: bytes) -> tuple[str, list[bytes]]:
    """Every value in an encrypted database, opened with its key: text, and blobs apart."""
    conn = Database.open(path, key).connect()
    try:
        texts: list[str] = []
        blobs: list[bytes] = []
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in tuple(row):
                    if isinstance(value, bytes):
                        blobs.append(value)
                    else:
                        texts.append(str(value))
        return "\n".join(texts), blobs
    finally:
        conn.close()


def test_no_readable_trace_after_erasure(
    appliance: Appliance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After erasing a candidate, nothing of theirs is readable: not in the files (database,
    WAL, spool, backups, temp), not in a backup taken before the erasure even when opened with
    the database key (their key is gone), not in the live database; their export was streamed
    and never stored; the audit chain still verifies."""
    ran = run_flow(appliance, tmp_path, monkeypatch, candidate_only=True)
    store, paths = ran.store, appliance.config.paths
    try:
        hr = principal_of(
            store.users.get(
                make_user(store, "eraser", "hr_admin", regions=["*"], departments=["*"])
            )
        )
        candidate_id = int(
            store.conn.execute(
                "SELECT id FROM candidates WHERE pseudonym = ?", (ran.candidate_pseudonym,)
            ).fetchone()[0]
        )
        spool = appliance.spool()
        archive = b"".join(subject_export(store, spool, hr, candidate_id).chunks)
        assert ran.canary.marker in archive  # the decrypted recording, in memory only
        taken = backup(
            store.database, store.conn, appliance.keyset.db, paths.backups, "pre-erasure"
        )
        # Before the erasure the backup holds the candidate, sealed under their key.
        before, _ = _dump_database(taken, appliance.keyset.db)
        assert ran.candidate_pseudonym in before and ran.canary.text not in before

        erase_candidate(store, spool, hr, candidate_id, "deletion request")

        needles = needles_of(ran, appliance)
        middle = len(archive) // 2
        needles["export bytes"] = archive[middle : middle + 64]
        files = files_to_scan(appliance, ran)
        assert str(taken) in files and any(path.endswith("-wal") for path in files)
        assert scan_in_child(files, needles) == []
        # Its recording is gone from the spool (spool files of other test runs sharing the
        # system temp folder are not ours to judge).
        spooled = [path for path in files if path.startswith(str(appliance.data_dir))]
        assert not any(path.endswith(".spool") for path in spooled)

        canary_bytes = (ran.canary.text.encode("utf-8"), ran.canary.marker)
        for database in (taken, paths.database):
            text, blobs = _dump_database(database, appliance.keyset.db)
            assert ran.canary.text not in text, database.name
            assert not any(needle in blob for blob in blobs for needle in canary_bytes)
        _, vault_blobs = _dump_database(paths.vault, appliance.keyset.vault)
        assert ran.candidate_key not in vault_blobs
        assert store.audit.first_broken_link() is None
    finally:
        store.close()
