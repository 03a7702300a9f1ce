"""Signed updates end to end: a real provisioned appliance, an install root whose slots hold
copies of this repository's packages, bundles built and signed with real vendor keys, and every
command run as the operator runs it (`python -m appliance update …` through `current`, in its
own process; the migrations and health checks in processes of their slot). Power loss is a
SIGKILL the updater sends itself at a named step (APPLIANCE_TEST_KILL_AT)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.platform.config import load_config
from appliance.platform.locks import shared_lock
from appliance.store import Store
from appliance.store.runtime import open_store
from firmware.bundle import PACKAGES, build_bundle
from firmware.trust import TrustRoot, load_private_key, private_pem
from firmware.updater import KILL_ENV

from .conftest import PASSPHRASE, REPO, Appliance, demo_interview, make_appliance

PROBE_TABLE = "update_probe"


@dataclass
class Vendor:
    """Keys, the trusted-keys file, and the bundles the tests install."""

    trusted_keys: Path
    good: Path  # 0.2.0, counter 1, adds a migration
    broken: Path  # 0.3.0, counter 2, adds the same migration; its web code does not load


def _source(folder: Path, version: str, *, broken: bool = False) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, folder / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    init = folder / "appliance" / "__init__.py"
    init.write_text(
        re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text())
    )
    migrations = folder / "appliance" / "store" / "migrations"
    number = len(list(migrations.glob("[0-9][0-9][0-9][0-9]_*.sql"))) + 1
    (migrations / f"{number:04d}_update_probe.sql").write_text(
        f"CREATE TABLE {PROBE_TABLE} (id INTEGER PRIMARY KEY);\n"
    )
    if broken:
        web = folder / "webui" / "__init__.py"
        web.write_text(web.read_text() + "\nraise RuntimeError('a broken release')\n")
    return folder


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> Vendor:
    root = tmp_path_factory.mktemp("vendor")
    keys = []
    for name in ("k1", "k2", "k3"):
        (root / f"{name}.pem").write_bytes(private_pem(Ed25519PrivateKey.generate()))
        keys.append(load_private_key(root / f"{name}.pem"))
    trusted = root / "trusted-keys.json"
    trusted.write_bytes(
        TrustRoot.build([(f"k{i}", key.public_key()) for i, key in enumerate(keys)], 2).to_bytes()
    )
    expires = datetime.now(UTC) + timedelta(days=7)
    good, broken = root / "good.tar.gz", root / "broken.tar.gz"
    build_bundle(
        _source(root / "src-good", "0.2.0"),
        good,
        version="0.2.0",
        min_version="0.1.0",
        counter=1,
        expires=expires,
        keys=keys[:2],
    )
    build_bundle(
        _source(root / "src-broken", "0.3.0", broken=True),
        broken,
        version="0.3.0",
        min_version="0.1.0",
        counter=2,
        expires=expires,
        keys=keys[1:],
    )
    return Vendor(trusted, good, broken)


class Box:
    """A provisioned appliance with its install root, driven through the command line."""

    def __init__(self, appliance: Appliance, root: Path, work: Path) -> None:
        self.appliance = appliance
        self.root = root
        self.work = work

    def _env(self, code: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
        env.update(APPLIANCE_PASSPHRASE=PASSPHRASE, PYTHONPATH=str(code), **extra)
        return env

    def run(
        self, *args: str, code: Path | None = None, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`python -m ARGS --config …` with the code of `code` (default: through `current`)."""
        return subprocess.run(
            [sys.executable, *args, "--config", str(self.appliance.config_path)],
            env=self._env(code or self.root / "current", **(extra or {})),
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def update(self, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {KILL_ENV: kill_at} if kill_at else {}
        return self.run("-m", "appliance", "update", *args, "--root", str(self.root), extra=extra)

    def ok(self, *args: str) -> str:
        result = self.update(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def status(self) -> dict[str, Any]:
        return json.loads(self.ok("status"))  # type: ignore[no-any-return]

    def current(self) -> str:
        return os.readlink(self.root / "current")

    def healthy(self) -> bool:
        """The health check of whatever `current` points at, run with that slot's code."""
        result = self.run("-P", "-m", "firmware.steps", "health")
        return result.returncode == 0

    def store(self) -> Store:
        return open_store(self.appliance.config, self.appliance.keyset, check_schema=False)

    def tables(self) -> set[str]:
        store = self.store()
        try:
            rows = store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            return {row["name"] for row in rows}
        finally:
            store.close()

    def update_events(self) -> list[str]:
        store = self.store()
        try:
            entries = store.audit.entries(limit=10_000)
        finally:
            store.close()
        return [e.action for e in entries if e.actor == "update"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, vendor: Vendor) -> tuple[Appliance, Path]:
    """One provisioned appliance with an initialised install root, copied for each test."""
    root = tmp_path_factory.mktemp("template")
    appliance = make_appliance(root)
    box = Box(appliance, root / "install", root)
    result = box.update("init", "--trusted-keys", str(vendor.trusted_keys))
    assert result.returncode == 0, result.stderr
    return appliance, root


@pytest.fixture
def box(template: tuple[Appliance, Path], tmp_path: Path) -> Box:
    appliance, source = template
    shutil.copytree(source / "data", tmp_path / "data", symlinks=True)
    shutil.copytree(source / "install", tmp_path / "install", symlinks=True)
    config_path = tmp_path / "data" / "appliance.toml"
    lines = config_path.read_text().splitlines()
    lines[0] = f"data_dir = {json.dumps(str(tmp_path / 'data'))}"
    config_path.write_text("\n".join(lines) + "\n")
    copy = Appliance(load_config(config_path), config_path, appliance.keyset, PASSPHRASE)
    return Box(copy, tmp_path / "install", tmp_path)


def _candidate_before(box: Box) -> tuple[int, str]:
    store = box.store()
    try:
        interview = store.interviews.get(demo_interview(store, name="Written Before"))
        return interview.candidate_id, store.candidates.get(interview.candidate_id).full_name
    finally:
        store.close()


def _readable_with_the_old_code(box: Box, candidate_id: int) -> str:
    store = open_store(box.appliance.config, box.appliance.keyset)  # the schema must match
    try:
        return store.candidates.get(candidate_id).full_name
    finally:
        store.close()


def test_a_good_bundle_stages_applies_and_the_new_slot_runs(box: Box, vendor: Vendor) -> None:
    assert box.current() == "slots/a"
    candidate, name = _candidate_before(box)
    box.ok("stage", str(vendor.good))
    staged = box.status()
    assert staged["journal"]["state"] == "staged"
    assert staged["slots"]["b"] == {
        "version": "0.2.0",
        "signed": True,
        "counter": 1,
        "expires": staged["slots"]["b"]["expires"],
    }

    with shared_lock(box.appliance.config.paths.lock):  # as `serve` holds it
        running = box.update("apply")
    assert running.returncode == 12, running.stderr  # stop the appliance first
    assert box.current() == "slots/a"

    box.ok("apply")
    assert box.current() == "slots/b"
    probe = box.run("-c", "import appliance; print(appliance.__version__, appliance.__file__)")
    version, where = probe.stdout.split()
    assert version == "0.2.0" and Path(where).resolve().is_relative_to(box.root / "slots" / "b")
    assert box.run("-m", "appliance", "check").stdout.strip() == "ok"
    assert PROBE_TABLE in box.tables()  # the new slot's migration ran
    done = box.status()
    assert done["counter"]["counter"] == 1 and done["counter"]["signature_verified"] is True
    assert done["last"]["result"] == "applied" and done["journal"]["state"] == "idle"
    events = box.update_events()
    for action in (
        "update.initialised",
        "update.staged",
        "update.apply_started",
        "backup.created",
        "update.data_changed",
        "update.switched",
        "update.applied",
    ):
        assert action in events

    # Rolling back by hand across a schema change needs the backup from before the update.
    refused = box.update("rollback")
    assert refused.returncode == 55 and "--restore-backup" in refused.stderr
    box.ok("rollback", "--restore-backup")  # its last step is slot a's health check
    assert box.current() == "slots/a"
    assert PROBE_TABLE not in box.tables()
    assert _readable_with_the_old_code(box, candidate) == name
    assert box.update("rollback", "--restore-backup").returncode == 55  # only once

    # The counter stays: the same bundle cannot be installed again after the rollback.
    again = box.update("stage", str(vendor.good))
    assert again.returncode == 53 and "not above this box's anti-rollback counter 1" in again.stderr


def test_a_failing_health_check_after_the_switch_rolls_back_with_the_data_intact(
    box: Box, vendor: Vendor
) -> None:
    candidate, name = _candidate_before(box)
    box.ok("stage", str(vendor.broken))
    result = box.update("apply")
    assert result.returncode == 54, result.stderr
    assert "web application does not build: RuntimeError: a broken release" in result.stderr
    assert box.current() == "slots/a" and box.healthy()
    assert PROBE_TABLE not in box.tables()  # its migration was undone by the restore
    assert _readable_with_the_old_code(box, candidate) == name
    status = box.status()
    assert status["journal"]["state"] == "idle" and status["outcome"]["result"] == "undone"
    assert status["counter"]["counter"] == 0  # not raised by a failed update
    assert {"update.apply_started", "update.undone"} <= set(box.update_events())


def test_refused_bundles_and_a_lowered_counter_leave_the_box_as_it_was(
    box: Box, vendor: Vendor, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.tar.gz"
    with (
        tarfile.open(vendor.good, "r:*") as source,
        tarfile.open(tampered, "w:gz", format=tarfile.PAX_FORMAT) as out,
    ):
        for member in source:
            data = source.extractfile(member).read() if member.isreg() else b""  # type: ignore[union-attr]
            if member.name == "files/appliance/__init__.py":
                data = data.replace(b"0.2.0", b"6.6.6")
            out.addfile(member, io.BytesIO(data))
    result = box.update("stage", str(tampered))
    assert result.returncode == 53 and "does not match its SHA-256" in result.stderr
    assert list((box.root / "slots" / "b").iterdir()) == []  # wiped again
    assert box.status()["journal"]["state"] == "idle"
    assert "update.refused" in box.update_events()

    counter = box.root / "state" / "counter.json"
    original = counter.read_bytes()
    record = json.loads(original)
    record["record"]["counter"] = -1
    counter.write_text(json.dumps(record))
    lowered = box.update("stage", str(vendor.good))
    assert lowered.returncode == 53 and "not signed by this box" in lowered.stderr
    counter.unlink()
    assert box.update("stage", str(vendor.good)).returncode == 55
    counter.write_bytes(original)
    box.ok("stage", str(vendor.good))


APPLY_STEPS = [
    "started",
    "backed-up",
    "changing-data",
    "data-changed",
    "switching",
    "switched",
    "healthy",
    "counter-recorded",
]
FAST = {"data-changed"}  # the worst moment: new schema, old code; the rest are `slow`


@pytest.mark.parametrize(
    "step", [s if s in FAST else pytest.param(s, marks=pytest.mark.slow) for s in APPLY_STEPS]
)
def test_a_kill_during_apply_leaves_a_bootable_box_that_recovers(
    box: Box, vendor: Vendor, step: str
) -> None:
    candidate, name = _candidate_before(box)
    box.ok("stage", str(vendor.good))
    killed = box.update("apply", kill_at=step)
    assert killed.returncode == -9, killed.stderr
    interrupted = box.status()
    assert interrupted["journal"]["state"] == "transition"
    assert interrupted["journal"]["step"] == ("healthy" if step == "counter-recorded" else step)

    box.ok("recover")
    finished = step in ("healthy", "counter-recorded")
    assert box.current() == ("slots/b" if finished else "slots/a")
    assert box.healthy()  # whatever `current` points at passes its health check
    if not finished:
        assert box.status()["journal"]["state"] == "staged"
        assert _readable_with_the_old_code(box, candidate) == name
        box.ok("apply")  # and the update goes through on the next try
    assert box.current() == "slots/b" and box.healthy()
    assert box.status()["counter"]["counter"] == 1


@pytest.mark.slow
def test_a_kill_while_staging_is_wiped_and_staging_again_works(box: Box, vendor: Vendor) -> None:
    killed = box.update("stage", str(vendor.good), kill_at="staging")
    assert killed.returncode == -9
    assert box.status()["journal"]["state"] == "staging"
    assert box.update("apply").returncode == 55  # wiped; nothing staged
    assert box.status()["journal"]["state"] == "idle"
    box.ok("stage", str(vendor.good))
    box.ok("apply")
    assert box.current() == "slots/b" and box.healthy()


UNDO_STEPS = ["undo-started", "switched-back", "data-restored"]


@pytest.mark.parametrize(
    "step",
    [pytest.param(s, marks=pytest.mark.slow) for s in UNDO_STEPS],
)
def test_a_kill_while_undoing_a_failed_update_is_completed_by_recover(
    box: Box, vendor: Vendor, step: str
) -> None:
    candidate, name = _candidate_before(box)
    box.ok("stage", str(vendor.broken))
    killed = box.update("apply", kill_at=step)
    assert killed.returncode == -9, killed.stderr
    assert box.status()["journal"]["state"] == "undoing"
    box.ok("recover")
    assert box.current() == "slots/a" and box.healthy()
    assert PROBE_TABLE not in box.tables()
    assert _readable_with_the_old_code(box, candidate) == name
    assert box.status()["outcome"]["result"] == "undone"
