"""Auditor export bundles, end to end: request → job → tar → age → file → `age -d` → verifier.

The bundle is decrypted with the real `age` CLI (Debian package) using an identity made by
the real `age-keygen`, and checked by `python -m appliance.audit.verify` in a separate process, as
an auditor would on their own machine. Tests that need the CLI skip cleanly without it.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.accounts.auth import issue_api_token, principal_of
from appliance.audit.chain import make_checkpoint
from appliance.audit.verify import verify_bundle
from appliance.exports.build import build_export
from appliance.exports.bundle_files import exports_dir, sweep_partial_bundles
from appliance.exports.recipients import register_recipient, set_cross_border, set_video_allow_list
from appliance.exports.requesting import JOB_KIND, request_export
from appliance.exports.rules import ExportError, parse_period
from appliance.hiring.review import current_scores, override_score, record_decision
from appliance.jobs.worker import Worker, scratch_dirs
from appliance.media.recordings import ingest_recording
from appliance.platform.clock import utcnow
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store
from appliance.store.exports import ExportRepository, ExportRequest

from .conftest import REPO, Appliance, csrf_token_from, login, make_user, write_wav

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
needs_age = pytest.mark.skipif(AGE is None, reason="the age CLI is not installed (apt: age)")
TODAY = utcnow().date().isoformat()
YEAR = utcnow().year


# --- Fixtures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """An auditor's age identity file and its public key."""

    path: Path
    public: str


def make_identity(folder: Path) -> Identity:
    """An age X25519 identity, from the real age-keygen when installed (else pyrage)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "key.txt"
    if AGE_KEYGEN is not None:
        subprocess.run([AGE_KEYGEN, "-o", str(path)], check=True, capture_output=True)
        public = next(
            line.split(":", 1)[1].strip()
            for line in path.read_text().splitlines()
            if line.startswith("# public key:")
        )
        return Identity(path, public)
    identity = pyrage.x25519.Identity.generate()
    path.write_text(f"{identity}\n")
    return Identity(path, str(identity.to_public()))


@dataclass
class World:
    """Candidates in three regions with decisions, reports and overrides."""

    admin: Principal
    eu: list[str]  # pseudonyms of EU candidates
    il: list[str]
    cn: list[str]  # CN requisitions
    eu_living_in_cn: str  # an EU position, a candidate residing in China
    reports: dict[str, int]  # pseudonym -> report id
    reason_canary: str


def _finish_queued_jobs(store: Store) -> None:
    """Mark the analysis jobs the fixtures queued as done, so the queue holds only exports."""
    while (claim := store.jobs.claim("fixture")) is not None:
        assert claim.job.kind != JOB_KIND
        with store.transaction():
            store.jobs.succeed(claim, {})


def _as(store: Store, username: str, role: str, regions: list[str]) -> Principal:
    user_id = make_user(store, username, role, departments=["*"], regions=regions)
    return principal_of(store.users.get(user_id))


def _candidate(
    store: Store,
    admin: Principal,
    requisition_id: int,
    score: float,
    reason: str,
    *,
    residence: str = "default",
) -> tuple[str, int]:
    name = f"Person {secrets.token_hex(3)}"
    candidate = store.candidates.create(name, residence_region=residence)
    interview = store.interviews.create(candidate.id, requisition_id)
    with store.transaction():
        job = store.jobs.enqueue("analyse", max_open=1000, max_attempts=1)
        report = store.reports.create(
            interview.id,
            job.id,
            {
                "scores": {
                    "ownership": {"score": score, "confidence": 0.8, "evidence": []},
                    "craft": {"score": 5, "confidence": 0.6, "evidence": []},
                }
            },
            model_version="test-model-1",
        )
    record_decision(
        store,
        admin,
        candidate_id=candidate.id,
        requisition_id=requisition_id,
        kind="advance",
        reason=reason,
    )
    return candidate.pseudonym, report.id


@pytest.fixture
def world(store: Store) -> World:
    admin = _as(store, "hr.admin", "hr_admin", ["*"])
    with store.transaction():
        eu = store.requisitions.create("Dev", "Engineering", "Berlin", "EU")
        il = store.requisitions.create("Rep", "Sales", "Chicago", "US-IL")
        cn = store.requisitions.create("Ops", "Operations", "Shanghai", "CN")
    canary = "ReasonCanary-" + secrets.token_hex(6)
    reports: dict[str, int] = {}
    found: dict[str, list[str]] = {"EU": [], "US-IL": [], "CN": []}
    for requisition, region in ((eu, "EU"), (il, "US-IL"), (cn, "CN")):
        for score in (4.0, 7.0):
            pseudonym, report_id = _candidate(store, admin, requisition.id, score, canary)
            found[region].append(pseudonym)
            reports[pseudonym] = report_id
    resident, report_id = _candidate(store, admin, eu.id, 6.0, canary, residence="CN")
    reports[resident] = report_id
    override_score(
        store,
        admin,
        report_id=reports[found["EU"][0]],
        dimension="ownership",
        new_score=8,
        reason=canary,
    )
    # An override of the second EU candidate's whole interview (the store's part: these
    # reports' older shape has no interview score for the review rule to check against).
    second = store.reports.get(reports[found["EU"][1]])
    with store.transaction():
        store.interview_overrides.add(second.interview_id, "craft", 5.0, 9.0, canary, admin.user_id)
    _finish_queued_jobs(store)
    return World(admin, found["EU"], found["US-IL"], found["CN"], resident, reports, canary)


@pytest.fixture
def auditor(store: Store) -> Principal:
    return _as(store, "auditor.one", "auditor", ["EU", "US-IL", "CN"])


@pytest.fixture
def identity(tmp_path: Path) -> Identity:
    return make_identity(tmp_path / "auditor")


def run_export_job(
    appliance: Appliance, store: Store, export: ExportRequest, **options: Any
) -> None:
    """Run the export's job: through the real worker once it has the handler, else directly."""
    worker = Worker(appliance.config, store)
    if JOB_KIND in worker._handlers and not options:
        outcome = worker.run_once()
        assert outcome is not None and outcome.state == "succeeded", outcome
        return
    # Until the worker registers the "export" handler: the same builder, as the handler calls it.
    claim = store.jobs.claim("test-worker")
    assert claim is not None and claim.job.kind == JOB_KIND
    progress: list[float] = []
    result = build_export(
        store, appliance.config, claim.job.payload, lambda f, _s: progress.append(f), **options
    )
    with store.transaction():
        store.jobs.succeed(claim, result)
    assert progress and progress == sorted(progress) and max(progress) <= 1


def bundle_path(appliance: Appliance, store: Store, export_id: int) -> Path:
    export = ExportRepository.of(store).get(export_id)
    assert export.state == "succeeded" and export.bundle_name
    return exports_dir(appliance.config) / export.bundle_name


def age_decrypt(
    identity: Identity, bundle: Path, target: Path
) -> subprocess.CompletedProcess[bytes]:
    assert AGE is not None
    return subprocess.run(
        [AGE, "-d", "-i", str(identity.path), "-o", str(target), str(bundle)],
        capture_output=True,
        check=False,
    )


def run_verifier(bundle: Path, public_key: Path | None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "appliance.audit.verify", str(bundle)]
    if public_key is not None:
        args += ["--public-key", str(public_key)]
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=False, timeout=60)


def members(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def jsonl_rows(files: dict[str, bytes], table: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for name in sorted(files)
        if name.startswith(f"data/{table}-") and name.endswith(".jsonl")
        for line in files[name].splitlines()
    ]


def export_and_decrypt(
    appliance: Appliance,
    store: Store,
    principal: Principal,
    identity: Identity,
    kind: str,
    region: str,
    target: Path,
    **options: Any,
) -> tuple[ExportRequest, Path]:
    export = request_export(store, principal, kind, region, TODAY, TODAY, config=appliance.config)
    run_export_job(appliance, store, export, **options)
    decrypted = age_decrypt(identity, bundle_path(appliance, store, export.id), target)
    assert decrypted.returncode == 0, decrypted.stderr
    return ExportRepository.of(store).get(export.id), target


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def member_offset(tar_path: Path, name: str) -> int:
    with tarfile.open(tar_path) as tar:
        return tar.getmember(name).offset_data


# --- The whole path ---------------------------------------------------------------------------


@needs_age
def test_bundle_decrypts_with_age_and_verifies_and_any_flipped_byte_fails(
    appliance: Appliance,
    store: Store,
    world: World,
    auditor: Principal,
    identity: Identity,
    tmp_path: Path,
) -> None:
    register_recipient(store, auditor, identity.public, "DE")
    export, tar_path = export_and_decrypt(
        appliance, store, auditor, identity, "decisions_scores", "EU", tmp_path / "bundle.tar"
    )
    pem = appliance.config.paths.device_public_key
    verified = run_verifier(tar_path, pem)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK:" in verified.stdout

    files = members(tar_path)
    manifest = json.loads(files["manifest.json"])
    assert manifest["kind"] == "decisions_scores" and manifest["region"] == "EU"
    assert manifest["schema_version"] == 1
    assert manifest["device_public_key"] == pem.read_text()
    assert {f["path"] for f in manifest["files"]} == set(files) - {"manifest.json", "manifest.sig"}
    assert {"data/subjects-0001.jsonl", "data/decisions-0001.csv", "data/scores-0001.csv"} <= set(
        files
    )
    # Only EU subjects; the EU position's candidate living in China is withheld (CN-3).
    subjects = jsonl_rows(files, "subjects")
    assert sorted(s["pseudonym"] for s in subjects) == sorted(world.eu)
    assert {s["region"] for s in subjects} == {"EU"}
    assert manifest["counts"]["tables"]["subjects"] == len(world.eu)
    assert manifest["counts"]["withheld"] == {"china_region_individuals": 1}
    everything = b"".join(files.values())
    for pseudonym in [*world.il, *world.cn, world.eu_living_in_cn]:
        assert pseudonym.encode() not in everything
    # No free text people wrote: the reason is not in the bundle, its kind is.
    assert world.reason_canary.encode() not in everything
    decision = subjects[0]["decisions"][0]
    assert decision["kind"] == "advance" and decision["reason_kind"] == "free_text"
    assert decision["decided_by"] == f"user:{world.admin.user_id}"
    assert decision["decided_by_role"] == "hr_admin"
    # AI scores, and current scores after overrides, as review.current_scores has them.
    for subject in subjects:
        for report in subject["reports"]:
            assert report["current_scores"] == current_scores(store, report["report_id"])
    overridden = next(s for s in subjects if s["pseudonym"] == world.eu[0])["reports"][0]
    assert overridden["ai_scores"]["ownership"] == 4.0
    assert overridden["current_scores"]["ownership"] == 8.0
    assert overridden["overrides"][0]["reason_kind"] == "free_text"
    whole = next(s for s in subjects if s["pseudonym"] == world.eu[1])["interview_overrides"]
    assert [(o["dimension"], o["new_score"], o["reason_kind"]) for o in whole] == [
        ("craft", 9.0, "free_text")
    ]
    flat = files["data/interview_overrides-0001.csv"].decode()
    assert world.eu[1] in flat and "craft" in flat
    # The download's digest is the one recorded.
    encrypted = bundle_path(appliance, store, export.id)
    assert hashlib.sha256(encrypted.read_bytes()).hexdigest() == export.bundle_sha256
    assert encrypted.stat().st_mode & 0o077 == 0

    # One flipped byte in a data file: the verifier refuses.
    tampered = tmp_path / "tampered-data.tar"
    shutil.copy(tar_path, tampered)
    flip_byte(tampered, member_offset(tampered, "data/decisions-0001.csv") + 40)
    refused = run_verifier(tampered, pem)
    assert refused.returncode == 1 and "SHA-256 differs" in refused.stderr
    # One flipped byte in the manifest: the signature no longer verifies.
    tampered = tmp_path / "tampered-manifest.tar"
    shutil.copy(tar_path, tampered)
    flip_byte(tampered, member_offset(tampered, "manifest.json") + 30)
    refused = run_verifier(tampered, pem)
    assert refused.returncode == 1 and "signature" in refused.stderr
    # A key other than the device's: refused, even though the bundle is intact.
    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    refused = run_verifier(tar_path, other)
    assert refused.returncode == 1 and "different device key" in refused.stderr
    # One flipped byte in the age file: age refuses to decrypt it.
    damaged = tmp_path / "damaged.tar.age"
    shutil.copy(encrypted, damaged)
    flip_byte(damaged, damaged.stat().st_size // 2)
    result = age_decrypt(identity, damaged, tmp_path / "never.tar")
    assert result.returncode != 0
    # Still encrypted: the verifier says what to do.
    result = run_verifier(encrypted, pem)
    assert result.returncode == 1 and "age -d" in result.stderr


@needs_age
def test_audit_log_bundle_carries_a_verifiable_piece_of_the_chain(
    appliance: Appliance,
    store: Store,
    world: World,
    auditor: Principal,
    identity: Identity,
    tmp_path: Path,
) -> None:
    register_recipient(store, auditor, identity.public, "DE")
    checkpoint = make_checkpoint(store)  # the device's signed statement of the log so far
    _export, tar_path = export_and_decrypt(
        appliance,
        store,
        auditor,
        identity,
        "audit_log",
        "EU",
        tmp_path / "audit.tar",
        part_bytes=1024,  # several parts: the chain must link across them
    )
    pem = appliance.config.paths.device_public_key
    verified = run_verifier(tar_path, pem)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain:" in verified.stdout
    assert f"audit checkpoint: seq {checkpoint.seq}" in verified.stdout
    assert "matches the exported chain" in verified.stdout
    files = members(tar_path)
    assert json.loads(files["audit/checkpoint.json"])["hash"] == checkpoint.hash
    assert len([name for name in files if name.startswith("data/audit_log-")]) > 2
    entries = jsonl_rows(files, "audit_log")
    manifest = json.loads(files["manifest.json"])
    assert manifest["audit_chain"]["entries"] == len(entries)
    assert [e["seq"] for e in entries] == list(range(entries[0]["seq"], entries[-1]["seq"] + 1))
    shown = {e["subject"] for e in entries if not e["redacted"]}
    assert set(world.eu) <= shown
    for pseudonym in [*world.il, *world.cn, world.eu_living_in_cn]:
        assert pseudonym not in shown
        assert pseudonym.encode() not in b"".join(files.values())
    redacted = [e for e in entries if e["redacted"]]
    assert redacted and all(e["subject"] is None and e["hash"] for e in redacted)

    # An altered entry (with its file's digest "fixed" in the manifest) breaks the chain check.
    folder = tmp_path / "extracted"
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    part = sorted(folder.glob("data/audit_log-*.jsonl"))[0]
    lines = part.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if b'"redacted":false' in line)
    entry = json.loads(lines[index])
    entry["actor"] = "user:999"
    lines[index] = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    part.write_bytes(b"".join(lines))
    listed = json.loads((folder / "manifest.json").read_text())
    for item in listed["files"]:
        if item["path"] == part.relative_to(folder).as_posix():
            item["sha256"] = hashlib.sha256(part.read_bytes()).hexdigest()
            item["bytes"] = part.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(listed, indent=2, sort_keys=True) + "\n")
    verdict = verify_bundle(folder, pem)
    assert not verdict.ok
    assert any("content does not match its hash" in p for p in verdict.problems)
    assert any("signature" in p for p in verdict.problems)


def test_a_bundle_in_many_parts_verifies_as_a_folder_too(
    appliance: Appliance, store: Store, world: World, auditor: Principal, tmp_path: Path
) -> None:
    identity = pyrage.x25519.Identity.generate()
    register_recipient(store, auditor, str(identity.to_public()), "DE")
    export = request_export(store, auditor, "decisions_scores", "EU", TODAY, TODAY)
    run_export_job(appliance, store, export, part_bytes=150, batch_size=1)
    plain = pyrage.decrypt(bundle_path(appliance, store, export.id).read_bytes(), [identity])
    folder = tmp_path / "bundle"
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        names = tar.getnames()
        tar.extractall(folder, filter="data")
    assert len([n for n in names if n.startswith("data/scores-")]) > 2
    verdict = verify_bundle(folder, appliance.config.paths.device_public_key)
    assert verdict.ok, verdict.problems
    # A part missing is noticed.
    next(folder.glob("data/scores-0002.*")).unlink()
    assert not verify_bundle(folder, appliance.config.paths.device_public_key).ok


def test_only_subjects_of_the_requested_region_and_period_appear(
    appliance: Appliance, store: Store, world: World, auditor: Principal
) -> None:
    identity = pyrage.x25519.Identity.generate()
    register_recipient(store, auditor, str(identity.to_public()), "US")
    export = request_export(store, auditor, "decisions_scores", "US-IL", TODAY, TODAY)
    run_export_job(appliance, store, export)
    plain = pyrage.decrypt(bundle_path(appliance, store, export.id).read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    assert sorted(s["pseudonym"] for s in jsonl_rows(files, "subjects")) == sorted(world.il)
    # A period without activity: the tables are there, empty.
    old = request_export(store, auditor, "decisions_scores", "US-IL", "2020-01-01", "2020-12-31")
    run_export_job(appliance, store, old)
    plain = pyrage.decrypt(bundle_path(appliance, store, old.id).read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    assert jsonl_rows(files, "subjects") == []
    assert json.loads(files["manifest.json"])["counts"]["tables"]["subjects"] == 0


def test_the_auditor_scope_and_the_request_rules(
    appliance: Appliance, store: Store, world: World, auditor: Principal
) -> None:
    with pytest.raises(ExportError, match="register your age public key"):
        request_export(store, auditor, "decisions_scores", "EU", TODAY, TODAY)
    with pytest.raises(ExportError, match="age X25519"):
        register_recipient(store, auditor, "age1notakey", "DE")
    register_recipient(store, auditor, str(pyrage.x25519.Identity.generate().to_public()), "de")
    with pytest.raises(PermissionDeniedError):  # US-NYC is outside the auditor's regions
        request_export(store, auditor, "decisions_scores", "US-NYC", TODAY, TODAY)
    with pytest.raises(PermissionDeniedError):  # another role: no exports at all
        request_export(store, world.admin, "decisions_scores", "EU", TODAY, TODAY)
    with pytest.raises(ExportError, match="unknown export kind"):
        request_export(store, auditor, "everything", "EU", TODAY, TODAY)
    with pytest.raises(ExportError, match="start before"):
        request_export(store, auditor, "audit_log", "EU", "2026-02-01", "2026-01-01")
    assert parse_period("2026-01-01", "2026-01-31") == (
        "2026-01-01T00:00:00.000000Z",
        "2026-02-01T00:00:00.000000Z",
    )
    assert parse_period("2026-01-01T10:00:00+02:00", "2026-01-01T12:00:00Z")[0] == (
        "2026-01-01T08:00:00.000000Z"
    )
    export = request_export(store, auditor, "audit_log", "EU", TODAY, TODAY)
    job = store.jobs.get(export.job_id or 0)
    assert job.kind == JOB_KIND and job.payload == {"export_id": export.id}
    requested = store.audit.entries(action="export.requested")[-1]
    assert requested.actor == f"user:{auditor.user_id}" and requested.details["region"] == "EU"


# --- Region rules -----------------------------------------------------------------------------


def _recording(appliance: Appliance, store: Store, pseudonym: str, tmp_path: Path) -> bytes:
    candidate_id = store.conn.execute(
        "SELECT id FROM candidates WHERE pseudonym = ?", (pseudonym,)
    ).fetchone()[0]
    interview = store.interviews.for_candidate(candidate_id)[0]
    wav = write_wav(tmp_path / f"{pseudonym}.wav", 0.5).read_bytes()
    ingest_recording(
        store,
        appliance.spool(),
        appliance.config,
        interview_id=interview.id,
        source=io.BytesIO(wav),
        filename="answer.wav",
        content_type="audio/wav",
        actor="test",
    )
    _finish_queued_jobs(store)
    return wav


def test_IL_2_videos_go_only_to_allow_listed_recipients_with_a_logged_reason(
    appliance: Appliance, store: Store, world: World, auditor: Principal, tmp_path: Path
) -> None:
    original = _recording(appliance, store, world.il[0], tmp_path)
    identity = pyrage.x25519.Identity.generate()
    register_recipient(store, auditor, str(identity.to_public()), "US")
    with pytest.raises(ExportError, match="IL-2") as refused:
        request_export(store, auditor, "recordings", "US-IL", TODAY, TODAY, reason="review")
    assert refused.value.rule == "IL-2"
    logged = store.audit.entries(action="export.refused")[-1]
    assert logged.details["rule"] == "IL-2" and logged.details["kind"] == "recordings"
    assert store.jobs.counts().get("queued", 0) == 0  # nothing was queued

    with pytest.raises(ExportError, match="reason"):
        set_video_allow_list(store, world.admin, auditor.user_id, allowed=True, reason=" ")
    with pytest.raises(PermissionDeniedError):  # an auditor cannot allow-list themselves
        set_video_allow_list(store, auditor, auditor.user_id, allowed=True, reason="me")
    set_video_allow_list(
        store, world.admin, auditor.user_id, allowed=True, reason="External evaluator of IL hires"
    )
    allowed = store.audit.entries(action="export.videos_allowed")[-1]
    assert allowed.subject == f"user:{auditor.user_id}"
    assert allowed.details["reason"] == "External evaluator of IL hires"
    with pytest.raises(ExportError, match="reason"):  # the export itself needs a reason too
        request_export(store, auditor, "recordings", "US-IL", TODAY, TODAY)
    export = request_export(
        store, auditor, "recordings", "US-IL", TODAY, TODAY, reason="Annual AIVIA evaluation"
    )
    requested = store.audit.entries(action="export.requested")[-1]
    assert requested.details["reason"] == "Annual AIVIA evaluation"
    assert requested.details["allow_list_reason"] == "External evaluator of IL hires"
    run_export_job(appliance, store, export)
    plain = pyrage.decrypt(bundle_path(appliance, store, export.id).read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    media = [name for name in files if name.startswith("media/")]
    assert media == [next(n for n in media if n.startswith(f"media/{world.il[0]}/"))]
    assert files[media[0]] == original
    assert jsonl_rows(files, "recordings")[0]["file"] == media[0]
    (tmp_path / "media.tar").write_bytes(plain)
    verdict = verify_bundle(tmp_path / "media.tar", appliance.config.paths.device_public_key)
    assert verdict.ok, verdict.problems

    # Taken off the allow-list before the job ran: the build refuses, nothing is written.
    again = request_export(store, auditor, "recordings", "US-IL", TODAY, TODAY, reason="again")
    set_video_allow_list(store, world.admin, auditor.user_id, allowed=False, reason="Done")
    claim = store.jobs.claim("test-worker")
    assert claim is not None
    with pytest.raises(ExportError, match="IL-2"):
        build_export(store, appliance.config, claim.job.payload, lambda *_: None)
    assert ExportRepository.of(store).get(again.id).state == "failed"
    assert len(list(exports_dir(appliance.config).iterdir())) == 1


def test_CN_3_china_data_stays_in_china_by_default_and_is_counted_per_year(
    appliance: Appliance, store: Store, world: World, auditor: Principal, tmp_path: Path
) -> None:
    repo = ExportRepository.of(store)
    identity = pyrage.x25519.Identity.generate()
    register_recipient(store, auditor, str(identity.to_public()), "US")
    with pytest.raises(ExportError, match="CN-3") as refused:
        request_export(store, auditor, "decisions_scores", "CN", TODAY, TODAY)
    assert refused.value.rule == "CN-3"
    assert "outside China" in str(refused.value)
    assert store.audit.entries(action="export.refused")[-1].details["rule"] == "CN-3"
    assert repo.cn_counts(YEAR).individuals == 0

    with pytest.raises(PermissionDeniedError):
        set_cross_border(store, auditor, auditor.user_id, allowed=True, reason="me")
    set_cross_border(store, world.admin, auditor.user_id, allowed=True, reason="Group audit, SCC")
    assert store.audit.entries(action="export.cross_border_allowed")[-1].details["reason"] == (
        "Group audit, SCC"
    )
    export = request_export(store, auditor, "decisions_scores", "CN", TODAY, TODAY)
    assert export.cross_border
    run_export_job(appliance, store, export)
    counts = repo.cn_counts(YEAR)
    assert (counts.individuals, counts.sensitive_individuals, counts.exports) == (2, 0, 1)
    plain = pyrage.decrypt(bundle_path(appliance, store, export.id).read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["counts"]["cn3"] == {"individuals": 2, "sensitive_individuals": 0}

    # The same people again: still two individuals this year, in two exports. An EU bundle
    # now carries the EU position's candidate who lives in China: a third individual.
    run_export_job(
        appliance, store, request_export(store, auditor, "audit_log", "CN", TODAY, TODAY)
    )
    run_export_job(
        appliance, store, request_export(store, auditor, "decisions_scores", "EU", TODAY, TODAY)
    )
    counts = repo.cn_counts(YEAR)
    assert (counts.individuals, counts.exports) == (3, 3)
    # Recordings are sensitive personal information (face, voice): counted separately.
    _recording(appliance, store, world.cn[0], tmp_path)
    set_video_allow_list(store, world.admin, auditor.user_id, allowed=True, reason="Evaluator")
    run_export_job(
        appliance,
        store,
        request_export(store, auditor, "recordings", "CN", TODAY, TODAY, reason="Audit"),
    )
    counts = repo.cn_counts(YEAR)
    assert (counts.individuals, counts.sensitive_individuals, counts.exports) == (3, 1, 4)
    assert repo.cn_counts(YEAR - 1).individuals == 0

    # Moving (a new location) drops the permission; a recipient in China needs none and is
    # not counted (nothing crosses the border).
    register_recipient(store, auditor, str(identity.to_public()), "SG")
    with pytest.raises(ExportError, match="CN-3"):
        request_export(store, auditor, "decisions_scores", "CN", TODAY, TODAY)
    register_recipient(store, auditor, str(identity.to_public()), "CN")
    inside = request_export(store, auditor, "decisions_scores", "CN", TODAY, TODAY)
    assert not inside.cross_border
    run_export_job(appliance, store, inside)
    assert repo.cn_counts(YEAR).exports == 4


# --- The web: the API, the pages, and what an auditor cannot reach ---------------------------


@pytest.fixture
def web_app(web: Any) -> Any:
    """The app with the exports blueprint (registered here until create_app registers it)."""
    from webui.views import exports as export_views

    app, store = web
    if "exports" not in app.blueprints:
        app.register_blueprint(export_views.bp)
    return app, store


def _token(store: Store, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_api_token(store, 1, user_id, 'exports').secret}"}


def test_an_auditor_reaches_no_candidate_page_or_api(
    web_app: Any, world: World, auditor: Principal
) -> None:
    app, store = web_app
    headers = _token(store, auditor.user_id)
    client = app.test_client()
    candidate_id = store.conn.execute("SELECT min(id) FROM candidates").fetchone()[0]
    report_id = world.reports[world.eu[0]]
    for path in (
        "/api/v1/candidates",
        f"/api/v1/candidates/{candidate_id}",
        f"/api/v1/reports/{report_id}",
    ):
        assert client.get(path, headers=headers).status_code in (403, 404), path
    browser = app.test_client()
    assert login(browser, "auditor.one").status_code == 302
    for path in (
        "/candidates",
        f"/candidates/{candidate_id}",
        f"/reports/{report_id}",
        "/api/v1/candidates",
    ):
        assert browser.get(path).status_code in (403, 404), path
    assert browser.get("/exports").status_code == 200


def test_the_export_api_and_pages(
    web_app: Any, appliance: Appliance, world: World, auditor: Principal, identity: Identity
) -> None:
    app, store = web_app
    headers = _token(store, auditor.user_id)
    api = app.test_client()
    body = {"kind": "decisions_scores", "region": "EU", "period_start": TODAY, "period_end": TODAY}
    refused = api.post("/api/v1/exports", json=body, headers=headers)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "export_refused"

    # The page: register the key (CSRF-protected form), then ask for an export.
    browser = app.test_client()
    login(browser, "auditor.one")
    page = browser.get("/exports").get_data(as_text=True)
    token = csrf_token_from(page)
    assert (
        browser.post(
            "/exports/recipient", data={"age_recipient": identity.public, "location_country": "DE"}
        ).status_code
        == 400
    )
    done = browser.post(
        "/exports/recipient",
        data={
            "age_recipient": identity.public,
            "location_country": "de",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    assert identity.public in browser.get("/exports").get_data(as_text=True)

    # The API: a session cookie cannot ask (bearer only); a token can: 202 with the job id.
    assert browser.post("/api/v1/exports", json=body).status_code == 401
    unknown_field = api.post("/api/v1/exports", json={**body, "extra": 1}, headers=headers)
    assert unknown_field.status_code == 422
    answer = api.post("/api/v1/exports", json=body, headers=headers)
    assert answer.status_code == 202, answer.json
    export_id, job_id = answer.json["id"], answer.json["job_id"]
    assert store.jobs.get(job_id).kind == JOB_KIND
    assert answer.headers["Location"].endswith(f"/api/v1/exports/{export_id}")
    status = api.get(f"/api/v1/exports/{export_id}", headers=headers).json
    assert status["state"] == "queued" and status["bundle"] is None
    assert api.get(f"/api/v1/exports/{export_id}/bundle", headers=headers).status_code == 404

    run_export_job(appliance, store, ExportRepository.of(store).get(export_id))
    status = api.get(f"/api/v1/exports/{export_id}", headers=headers).json
    assert status["state"] == "succeeded" and status["progress"] == 1
    download = api.get(status["bundle"]["url"], headers=headers)
    assert download.status_code == 200
    assert download.data == bundle_path(appliance, store, export_id).read_bytes()
    assert download.headers["X-Bundle-SHA256"] == status["bundle"]["sha256"]
    assert store.audit.entries(action="export.downloaded")[-1].subject == f"export:{export_id}"
    listed = api.get("/api/v1/exports", headers=headers).json
    assert [item["id"] for item in listed["items"]] == [export_id]
    assert "export-" in browser.get("/exports").get_data(as_text=True)

    # Another auditor (same regions) sees neither the export nor its bundle.
    other = _as(store, "auditor.two", "auditor", ["EU"])
    other_headers = _token(store, other.user_id)
    assert api.get(f"/api/v1/exports/{export_id}", headers=other_headers).status_code == 404
    assert api.get(f"/api/v1/exports/{export_id}/bundle", headers=other_headers).status_code == 404
    # Roles without exports.view: 403.
    admin_headers = _token(store, world.admin.user_id)
    assert api.get(f"/api/v1/exports/{export_id}", headers=admin_headers).status_code == 403
    assert api.post("/api/v1/exports", json=body, headers=admin_headers).status_code == 403

    # The administrators' page: the allow-list needs a reason.
    admin = app.test_client()
    make_user(store, "web.admin", "hr_admin", departments=["*"], regions=["*"])
    login(admin, "web.admin")
    page = admin.get("/exports/recipients")
    assert page.status_code == 200 and "auditor.one" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    admin.post(
        f"/exports/recipients/{auditor.user_id}/videos",
        data={"allowed": "1", "reason": "Evaluator", "csrf_token": token},
    )
    recipient = ExportRepository.of(store).recipient(auditor.user_id)
    assert recipient is not None and recipient.videos_allowed


# --- No plaintext anywhere --------------------------------------------------------------------

_SCAN = """
import os, sys
roots, since = sys.argv[1].split(os.pathsep), float(sys.argv[2])
needles = [n.encode(codec) for n in sys.argv[3:] for codec in ("utf-8", "utf-16-le")]
for index, root in enumerate(roots):
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                if index == len(roots) - 1 and os.stat(path).st_mtime < since:
                    continue  # the system temp folder: only what appeared during the test
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            if any(needle in data for needle in needles):
                print(path)
"""


def test_no_plaintext_of_a_bundle_is_left_on_disk(
    appliance: Appliance, store: Store, world: World, auditor: Principal
) -> None:
    started = time.time() - 1
    identity = pyrage.x25519.Identity.generate()
    register_recipient(store, auditor, str(identity.to_public()), "DE")
    export = request_export(store, auditor, "decisions_scores", "EU", TODAY, TODAY)
    run_export_job(appliance, store, export)
    audit = request_export(store, auditor, "audit_log", "EU", TODAY, TODAY)
    run_export_job(appliance, store, audit)
    pseudonym = world.eu[1]
    # The canary really is in the bundle's plaintext (so a clear copy would be found)...
    plain = pyrage.decrypt(bundle_path(appliance, store, export.id).read_bytes(), [identity])
    assert pseudonym.encode() in plain
    # ...and nowhere on disk: not in the data folder (databases with their WAL, the exports
    # folder), the worker's scratch folders, nor anything new in the system temp folder. The
    # files are read by another process: closing a database file here would drop the POSIX
    # locks SQLite holds on it.
    roots = [
        str(appliance.data_dir),
        *map(str, scratch_dirs(appliance.config)),
        tempfile.gettempdir(),
    ]
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCAN,
            os.pathsep.join(roots),
            str(started),
            pseudonym,
            world.reason_canary,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    assert found == []
    assert {p.name for p in exports_dir(appliance.config).iterdir()} == {
        ExportRepository.of(store).get(export.id).bundle_name,
        ExportRepository.of(store).get(audit.id).bundle_name,
    }


def test_an_interrupted_build_leaves_no_file(
    appliance: Appliance, store: Store, world: World, auditor: Principal
) -> None:
    register_recipient(store, auditor, str(pyrage.x25519.Identity.generate().to_public()), "DE")
    export = request_export(store, auditor, "decisions_scores", "EU", TODAY, TODAY)
    claim = store.jobs.claim("test-worker")
    assert claim is not None

    class Stop(Exception):
        pass

    def stop(_fraction: float, step: str) -> None:
        if step == "decisions_scores":
            raise Stop()

    with pytest.raises(Stop):
        build_export(store, appliance.config, claim.job.payload, stop, batch_size=1)
    assert list(exports_dir(appliance.config).iterdir()) == []
    assert not store.conn.in_transaction
    # The retry builds it; a further run returns the same bundle.
    first = build_export(store, appliance.config, claim.job.payload, lambda *_: None)
    again = build_export(store, appliance.config, claim.job.payload, lambda *_: None)
    assert first == again and first["bundle_bytes"] > 0
    with pytest.raises(NotFoundError):
        ExportRepository.of(store).get(export.id + 100)


def test_the_verifier_stands_alone(
    appliance: Appliance, store: Store, world: World, auditor: Principal, tmp_path: Path
) -> None:
    source = (REPO / "appliance" / "audit" / "verify.py").read_text(encoding="utf-8")
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if not isinstance(node, ast.ImportFrom) or node.module
    }
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}
    # Copied alone to another folder, it verifies a bundle (as on the auditor's machine).
    identity = pyrage.x25519.Identity.generate()
    register_recipient(store, auditor, str(identity.to_public()), "DE")
    export = request_export(store, auditor, "audit_log", "EU", TODAY, TODAY)
    run_export_job(appliance, store, export)
    elsewhere = tmp_path / "auditor-machine"
    elsewhere.mkdir()
    tar_path = elsewhere / "bundle.tar"
    tar_path.write_bytes(
        pyrage.decrypt(bundle_path(appliance, store, export.id).read_bytes(), [identity])
    )
    shutil.copy(REPO / "appliance" / "audit" / "verify.py", elsewhere / "verify.py")
    shutil.copy(appliance.config.paths.device_public_key, elsewhere / "device.pub.pem")
    done = subprocess.run(
        [sys.executable, "-I", "verify.py", "bundle.tar", "--public-key", "device.pub.pem"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK:" in done.stdout and "audit chain:" in done.stdout


def test_half_written_bundles_are_swept(appliance: Appliance) -> None:
    folder = exports_dir(appliance.config)
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / ".partial-export-000009-audit_log-EU-20260101T000000Z.tar.age"
    fresh = folder / ".partial-export-000010-audit_log-EU-20260101T000000Z.tar.age"
    stale.write_bytes(b"age-encryption.org/v1")
    fresh.write_bytes(b"age-encryption.org/v1")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert sweep_partial_bundles(appliance.config) == [stale.name]
    assert fresh.exists()


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    yield
    assert not [t for t in threading.enumerate() if t.name == "export-age"]
