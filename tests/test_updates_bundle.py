"""Update bundles on their own: real Ed25519 signatures by a threshold of vendor keys, real tar
archives (some built by hand to attack the reader), the box's checks, the signed counter."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.bundle import (
    FILES,
    MANIFEST,
    SIGNATURES,
    FileEntry,
    Manifest,
    Policy,
    build_bundle,
    open_bundle,
    parse_signatures,
    sign,
    signatures_bytes,
    stamp,
    tree_problems,
    unpack,
)
from firmware.counter import CounterRecord, read_counter, trust_digest, write_counter
from firmware.errors import UpdateRefusedError, UpdateStateError
from firmware.trust import TrustRoot

NOW = datetime(2026, 6, 1, tzinfo=UTC)
Keys = dict[str, Ed25519PrivateKey]


@pytest.fixture(scope="module")
def keys() -> Keys:
    """Four vendor keys: k1-k3 are trusted (threshold 2), k4 is not."""
    return {name: Ed25519PrivateKey.generate() for name in ("k1", "k2", "k3", "k4")}


@pytest.fixture(scope="module")
def trust(keys: Keys) -> TrustRoot:
    return TrustRoot.build([(n, keys[n].public_key()) for n in ("k1", "k2", "k3")], 2)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small tree with the five packages of the appliance, at version 0.2.0."""
    root = tmp_path / "src"
    for package in ("appliance", "inference", "webui", "firmware", "provisioning"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text(f'"""{package}."""\n')
    (root / "appliance" / "__init__.py").write_text('__version__ = "0.2.0"\n')
    (root / "appliance" / "store").mkdir()
    (root / "appliance" / "store" / "0001_start.sql").write_text("CREATE TABLE t (x);\n")
    (root / "webui" / "static.css").write_bytes(b"body { color: black }\n" * 100)
    (root / "appliance" / "__pycache__").mkdir()
    (root / "appliance" / "__pycache__" / "x.pyc").write_bytes(b"compiled, never shipped")
    return root


Build = Callable[..., Path]


@pytest.fixture
def build(source: Path, keys: Keys, tmp_path: Path) -> Build:
    """Build a bundle from `source`; keyword arguments override the good defaults."""

    def make(name: str = "bundle.tar.gz", **overrides: object) -> Path:
        settings: dict[str, object] = {
            "version": "0.2.0",
            "min_version": "0.1.0",
            "counter": 5,
            "expires": NOW + timedelta(days=30),
            "keys": [keys["k1"], keys["k2"]],
        }
        settings.update(overrides)
        out = tmp_path / name
        build_bundle(source, out, **settings)  # type: ignore[arg-type]
        return out

    return make


def policy(trust: TrustRoot, *, current: str = "0.1.0", floor: int = 4) -> Policy:
    return Policy(trust, current, floor, NOW)


def stage_into(bundle: Path, trust: TrustRoot, slot: Path, **kwargs: object) -> Manifest:
    """What `update stage` does with a bundle: open (checks), unpack (hashes), verify on disk."""
    with open_bundle(bundle, policy(trust, **kwargs)) as opened:  # type: ignore[arg-type]
        slot.mkdir()
        unpack(opened, slot)
        assert tree_problems(slot, opened.manifest.files) == []
        return opened.manifest


def read_tar(bundle: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(bundle, "r:*") as archive:
        found = []
        for member in archive:
            handle = archive.extractfile(member) if member.isreg() else None
            found.append((member, handle.read() if handle else b""))
        return found


def write_tar(out: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out


def entry(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = kind, len(data) if kind == tarfile.REGTYPE else 0, 0o644
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = "../../../../etc/passwd"
    return info, data


def refused(bundle: Path, trust: TrustRoot, tmp_path: Path, match: str, **kwargs: object) -> None:
    with pytest.raises(UpdateRefusedError, match=match):
        stage_into(bundle, trust, tmp_path / "slot", **kwargs)


# --- the good case and the signatures --------------------------------------------------------


def test_a_good_bundle_stages_with_every_file_checked(
    build: Build, trust: TrustRoot, tmp_path: Path, source: Path
) -> None:
    manifest = stage_into(build(), trust, tmp_path / "slot")
    assert (manifest.version, manifest.counter) == ("0.2.0", 5)
    paths = {f.path for f in manifest.files}
    assert "webui/static.css" in paths and "appliance/store/0001_start.sql" in paths
    assert not any("__pycache__" in path for path in paths)  # sources only
    assert (tmp_path / "slot" / "webui" / "static.css").read_bytes() == (
        source / "webui" / "static.css"
    ).read_bytes()


def test_under_the_threshold_is_refused(
    build: Build, keys: Keys, trust: TrustRoot, tmp_path: Path
) -> None:
    refused(build(keys=[keys["k1"]]), trust, tmp_path, "signed by 1 distinct trusted key")


def test_an_untrusted_key_counts_nothing(
    build: Build, keys: Keys, trust: TrustRoot, tmp_path: Path
) -> None:
    bundle = build(keys=[keys["k1"], keys["k4"]])
    refused(bundle, trust, tmp_path, r"signed by 1 distinct .*1 by keys this box does not trust")
    # Two untrusted signatures do not make one trusted.
    refused(build("b2.tgz", keys=[keys["k4"]]), trust, tmp_path, "signed by 0 distinct")


def test_the_same_key_signing_twice_counts_once(
    build: Build, keys: Keys, trust: TrustRoot, tmp_path: Path
) -> None:
    refused(
        build(keys=[keys["k1"], keys["k1"], keys["k1"]]), trust, tmp_path, "signed by 1 distinct"
    )


def test_a_signature_from_another_manifest_does_not_count(
    build: Build, keys: Keys, trust: TrustRoot, tmp_path: Path
) -> None:
    # k2's genuine signature over a different manifest is copied beside k1's.
    other = read_tar(build("other.tgz", counter=6))
    borrowed = next(parse_signatures(d) for i, d in other if i.name == SIGNATURES)
    members = read_tar(build(keys=[keys["k1"]]))
    own = next(parse_signatures(d) for i, d in members if i.name == SIGNATURES)
    sigs = signatures_bytes(own + [s for s in borrowed if s["keyid"] != own[0]["keyid"]])
    members = [entry(SIGNATURES, sigs) if i.name == SIGNATURES else (i, d) for i, d in members]
    refused(write_tar(tmp_path / "mixed.tgz", members), trust, tmp_path, "signed by 1 distinct")


def test_an_altered_manifest_breaks_every_signature(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    members = read_tar(build())
    raw = next(d for i, d in members if i.name == MANIFEST)
    raised = raw.replace(b'"counter": 5', b'"counter": 9')
    members = [entry(MANIFEST, raised) if i.name == MANIFEST else (i, d) for i, d in members]
    refused(write_tar(tmp_path / "t.tgz", members), trust, tmp_path, "signed by 0 distinct")


# --- what the manifest says --------------------------------------------------------------------


def test_a_tampered_file_is_refused_and_its_slot_not_trusted(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    members = read_tar(build())
    target = f"{FILES}/webui/static.css"
    altered = [
        entry(target, d.replace(b"black", b"white")) if i.name == target else (i, d)
        for i, d in members
    ]
    refused(write_tar(tmp_path / "t.tgz", altered), trust, tmp_path, "static.css does not match")
    # A changed size is caught before anything is written.
    longer = [entry(target, d + b"x") if i.name == target else (i, d) for i, d in members]
    refused(write_tar(tmp_path / "l.tgz", longer), trust, tmp_path, "a size other than")


def test_an_expired_bundle_is_refused(build: Build, trust: TrustRoot, tmp_path: Path) -> None:
    refused(build(expires=NOW - timedelta(seconds=1)), trust, tmp_path, "expired at")


def test_an_older_or_same_version_is_refused(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    bundle = build()
    refused(bundle, trust, tmp_path, "not newer than the installed 0.2.0", current="0.2.0")
    refused(bundle, trust, tmp_path, "not newer than the installed 0.10.0", current="0.10.0")


def test_a_box_below_the_minimum_version_is_refused(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    refused(build(min_version="0.1.5"), trust, tmp_path, "upgrades from 0.1.5", current="0.1.4")


def test_a_counter_not_above_the_floor_is_refused(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    bundle = build(counter=5)
    refused(bundle, trust, tmp_path, "counter 5 is not above .* counter 5", floor=5)
    refused(bundle, trust, tmp_path, "counter 5 is not above .* counter 7", floor=7)
    stage_into(bundle, trust, tmp_path / "ok", floor=4)


def test_dependencies_must_be_installed_as_pinned(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    have = metadata.version("cryptography")
    stage_into(build(requires={"cryptography": have}), trust, tmp_path / "ok")
    refused(
        build("b2.tgz", requires={"cryptography": "0.0.1"}),
        trust,
        tmp_path,
        f"cryptography==0.0.1 \\(installed: {have}\\)",
    )


# --- what the archive holds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (entry(f"{FILES}/../evil.py", b"x"), "unsafe path"),
        (entry(f"{FILES}/appliance/../../../evil.py", b"x"), "unsafe path"),
        (entry("/etc/cron.d/evil", b"x"), "unsafe path"),
        (entry("evil.py", b"x"), "outside files/"),
        (entry(f"{FILES}/appliance/link.py", kind=tarfile.SYMTYPE), "holds a link"),
        (entry(f"{FILES}/appliance/hard.py", kind=tarfile.LNKTYPE), "holds a link"),
        (entry(f"{FILES}/appliance/tty", kind=tarfile.CHRTYPE), "special file"),
        (entry(f"{FILES}/appliance/fifo", kind=tarfile.FIFOTYPE), "special file"),
        (entry(f"{FILES}/appliance/extra.py", b"print('unlisted')"), "does not list"),
    ],
)
def test_an_archive_with_a_hostile_entry_is_refused(
    build: Build,
    trust: TrustRoot,
    tmp_path: Path,
    member: tuple[tarfile.TarInfo, bytes],
    match: str,
) -> None:
    members = read_tar(build())
    refused(write_tar(tmp_path / "h.tgz", [*members, member]), trust, tmp_path, match)
    assert not (tmp_path / "slot").exists()  # refused before anything was written
    assert not (tmp_path.parent / "evil.py").exists()


def test_a_signed_manifest_naming_an_escaping_path_is_refused(
    keys: Keys, trust: TrustRoot, tmp_path: Path
) -> None:
    # The vendor keys themselves cannot place a file outside the slot's packages.
    for bad in ("appliance/../../evil.py", "/etc/evil.py", "evil.py", "../x/y.py"):
        data = b"print('x')\n"
        manifest = Manifest(
            "0.2.0",
            "0.1.0",
            5,
            stamp(NOW + timedelta(days=1)),
            stamp(NOW),
            {},
            (FileEntry(bad, len(data), hashlib.sha256(data).hexdigest()),),
        )
        raw = manifest.to_bytes()
        sigs = signatures_bytes([sign(raw, keys["k1"]), sign(raw, keys["k2"])])
        bundle = write_tar(tmp_path / "esc.tgz", [entry(MANIFEST, raw), entry(SIGNATURES, sigs)])
        refused(bundle, trust, tmp_path, "unsafe path|outside the appliance's packages")


def test_a_listed_file_missing_from_the_archive_is_refused(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    members = [(i, d) for i, d in read_tar(build()) if i.name != f"{FILES}/webui/static.css"]
    refused(write_tar(tmp_path / "m.tgz", members), trust, tmp_path, "lacks a listed file")


def test_not_a_tar_is_refused(trust: TrustRoot, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x1f\x8b not really gzip" * 50)
    refused(junk, trust, tmp_path, "not a tar archive|damaged")


def test_a_slot_on_disk_is_checked_file_by_file(
    build: Build, trust: TrustRoot, tmp_path: Path
) -> None:
    slot = tmp_path / "slot"
    manifest = stage_into(build(), trust, slot)
    (slot / "webui" / "static.css").write_text("changed")
    (slot / "appliance" / "planted.py").write_text("import os")
    (slot / "inference" / "__init__.py").unlink()
    (slot / "firmware" / "link.py").symlink_to("/etc/passwd")
    (slot / "appliance" / "__pycache__").mkdir()  # what Python leaves is not a problem
    problems = tree_problems(slot, manifest.files)
    assert sorted(problems) == [
        "appliance/planted.py is not in the manifest",
        "firmware/link.py is a link or a special file",
        "inference/__init__.py is missing",
        "webui/static.css was altered",
    ]


# --- the root of trust and the anti-rollback counter ------------------------------------------


def test_the_trust_root_refuses_duplicates_and_impossible_thresholds(keys: Keys) -> None:
    k1 = keys["k1"].public_key()
    with pytest.raises(UpdateStateError, match="listed twice"):
        TrustRoot.build([("a", k1), ("b", k1)], 1)
    with pytest.raises(UpdateStateError, match="threshold"):
        TrustRoot.build([("a", k1)], 2)
    with pytest.raises(UpdateStateError, match="threshold"):
        TrustRoot.build([("a", k1)], 0)
    root = TrustRoot.build([("a", k1), ("b", keys["k2"].public_key())], 2)
    assert TrustRoot.from_bytes(root.to_bytes(), "t").keys.keys() == root.keys.keys()


def test_the_counter_is_signed_by_the_device_and_cannot_be_lowered(tmp_path: Path) -> None:
    device = Ed25519PrivateKey.generate()
    seed = device.private_bytes_raw()
    trust_file = tmp_path / "trusted-keys.json"
    trust_file.write_text("{}")
    path = tmp_path / "counter.json"
    write_counter(path, CounterRecord(7, "0.2.0", trust_digest(trust_file), "t"), seed)
    assert read_counter(path, device.public_key(), trust_file).counter == 7

    lowered = json.loads(path.read_text())
    lowered["record"]["counter"] = 3
    path.write_text(json.dumps(lowered))
    with pytest.raises(UpdateRefusedError, match="not signed by this box"):
        read_counter(path, device.public_key(), trust_file)

    # A record signed by another box's device key (copied over) is refused too.
    write_counter(path, CounterRecord(0, "0.1.0", trust_digest(trust_file), "t"), b"\x01" * 32)
    with pytest.raises(UpdateRefusedError, match="not signed by this box"):
        read_counter(path, device.public_key(), trust_file)

    # Swapping the trusted-keys file is seen.
    write_counter(path, CounterRecord(7, "0.2.0", trust_digest(trust_file), "t"), seed)
    trust_file.write_text('{"attacker": true}')
    with pytest.raises(UpdateRefusedError, match=r"trusted-keys file .* changed"):
        read_counter(path, device.public_key(), trust_file)

    path.unlink()
    with pytest.raises(UpdateStateError, match="no anti-rollback counter"):
        read_counter(path, device.public_key(), trust_file)
