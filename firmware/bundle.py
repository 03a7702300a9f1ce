"""Update bundles: a tar holding `manifest.json`, `signatures.json` and the files under `files/`.

The manifest names the version, the lowest version it upgrades from, its expiry (UTC), a
counter that only ever grows, the exact third-party versions it needs, and every file with its
size and SHA-256. A threshold of the vendor's Ed25519 keys signs the manifest's exact bytes.
The box checks the signatures before it believes anything in the manifest, and writes files
itself from the manifest's list (never `extractall`): no link, device, absolute path, `..` or
unlisted file gets onto the disk.

Vendor side (`python -m firmware.bundle`): `keygen`, `trust`, `build`, `sign`, `inspect`;
see docs/updates.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.errors import UpdateRefusedError, UpdateStateError
from firmware.trust import TrustRoot, key_id, load_private_key, load_public_key, private_pem
from firmware.trust import public_pem as public_key_pem

FORMAT = "interview-appliance/update"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURES = "signatures.json"
FILES = "files"
# What a slot holds: the appliance's own packages; third-party code stays in the shared venv.
PACKAGES = ("appliance", "inference", "webui", "firmware", "provisioning")
# Signatures are bound to what they sign.
CONTEXT = b"interview-appliance/update-manifest\n"
MAX_MANIFEST_BYTES = 4 * 2**20
MAX_FILE_BYTES = 64 * 2**20
MAX_TOTAL_BYTES = 512 * 2**20
MAX_FILES = 20_000
MAX_PATH_CHARS = 1024
BLOCK = 1 << 20
_VERSION = re.compile(r"^\d{1,6}(\.\d{1,6}){0,3}$")
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DIST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def parse_version(text: str) -> tuple[int, ...]:
    """`1.2.3` -> (1, 2, 3, 0); refuses anything but up to four dotted numbers."""
    if not isinstance(text, str) or not _VERSION.match(text):
        raise UpdateRefusedError(f"{text!r} is not a version (numbers and dots, e.g. 1.2.0)")
    parts = tuple(int(part) for part in text.split("."))
    return parts + (0,) * (4 - len(parts))


def parse_stamp(text: str) -> datetime:
    """A UTC time written as 2027-01-31T00:00:00Z."""
    try:
        return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise UpdateRefusedError(f"{text!r} is not a UTC time like 2027-01-31T00:00:00Z") from None


def stamp(moment: datetime) -> str:
    """The manifest's way of writing a UTC time."""
    return moment.astimezone(UTC).strftime(_STAMP)


def safe_path(text: str) -> str:
    """A relative POSIX path without `..`, `.`, empty parts, backslashes or NUL; else refused."""
    if (
        not isinstance(text, str)
        or not text
        or len(text) > MAX_PATH_CHARS
        or text.startswith("/")
        or "\\" in text
        or "\x00" in text
    ):
        raise UpdateRefusedError(f"the bundle names an unsafe path: {text!r}")
    parts = text.split("/")
    if any(part in ("", ".", "..") or len(part) > 255 for part in parts):
        raise UpdateRefusedError(f"the bundle names an unsafe path: {text!r}")
    return text


def _slot_path(text: str) -> str:
    path = safe_path(text)
    parts = PurePosixPath(path).parts
    if len(parts) < 2 or parts[0] not in PACKAGES:
        raise UpdateRefusedError(
            f"the bundle names {path!r}, outside the appliance's packages ({', '.join(PACKAGES)})"
        )
    if "__pycache__" in parts or path.endswith((".pyc", ".pyo")):
        raise UpdateRefusedError(f"the bundle holds compiled code ({path}): ship sources only")
    return path


@dataclass(frozen=True)
class FileEntry:
    """One file of a slot: its path, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a bundle installs and under which conditions."""

    version: str
    min_version: str
    counter: int
    expires: str
    created: str
    requires: dict[str, str]
    files: tuple[FileEntry, ...]

    @property
    def total_bytes(self) -> int:
        """The size of all files together."""
        return sum(entry.size for entry in self.files)

    def to_bytes(self) -> bytes:
        """The manifest as signed and written."""
        data: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "min_version": self.min_version,
            "counter": self.counter,
            "expires": self.expires,
            "created": self.created,
            "requires": dict(sorted(self.requires.items())),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse (after the signatures were checked) and check the manifest's shape."""
        try:
            data: Any = json.loads(raw)
            if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
                raise UpdateRefusedError(f"not an update manifest (format {FORMAT_VERSION})")
            counter = data["counter"]
            if not isinstance(counter, int) or isinstance(counter, bool) or counter < 0:
                raise UpdateRefusedError("the manifest's counter is not a whole number >= 0")
            requires = {str(k): str(v) for k, v in dict(data.get("requires", {})).items()}
            files = tuple(
                FileEntry(_slot_path(f["path"]), int(f["size"]), str(f["sha256"]))
                for f in data["files"]
            )
            manifest = cls(
                str(data["version"]),
                str(data["min_version"]),
                counter,
                str(data["expires"]),
                str(data.get("created", "")),
                requires,
                files,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UpdateRefusedError(f"the manifest is malformed ({exc})") from None
        manifest.check_shape()
        return manifest

    def check_shape(self) -> None:
        """Versions, expiry, limits, paths once each, hashes that look like SHA-256."""
        parse_version(self.version)
        parse_version(self.min_version)
        parse_stamp(self.expires)
        if len(self.files) > MAX_FILES:
            raise UpdateRefusedError(f"the bundle lists more than {MAX_FILES} files")
        seen: set[str] = set()
        for entry in self.files:
            if entry.path in seen:
                raise UpdateRefusedError(f"the manifest lists {entry.path} twice")
            seen.add(entry.path)
            if not 0 <= entry.size <= MAX_FILE_BYTES:
                raise UpdateRefusedError(f"{entry.path} is larger than {MAX_FILE_BYTES} bytes")
            if not _SHA256.match(entry.sha256):
                raise UpdateRefusedError(f"{entry.path} has no valid SHA-256 in the manifest")
        # A file and a folder of the same name cannot both exist.
        folders = {str(parent) for path in seen for parent in PurePosixPath(path).parents}
        if clash := sorted(seen & folders):
            raise UpdateRefusedError(f"the manifest names {clash[0]} as a file and a folder")
        if self.total_bytes > MAX_TOTAL_BYTES:
            raise UpdateRefusedError(f"the bundle's files exceed {MAX_TOTAL_BYTES} bytes")
        for name, version in self.requires.items():
            if not _DIST.match(name) or not version:
                raise UpdateRefusedError(f"the manifest requires an invalid package {name!r}")


def signature_message(manifest_bytes: bytes) -> bytes:
    """What each vendor key signs: the context line and the manifest's exact bytes."""
    return CONTEXT + manifest_bytes


def parse_signatures(raw: bytes) -> list[dict[str, str]]:
    """The list of {keyid, sig} in `signatures.json`."""
    try:
        data: Any = json.loads(raw)
        entries = [
            {"keyid": str(entry["keyid"]), "sig": str(entry["sig"])} for entry in data["signatures"]
        ]
    except (ValueError, KeyError, TypeError):
        raise UpdateRefusedError("the bundle's signatures.json is malformed") from None
    return entries


def signatures_bytes(entries: list[dict[str, str]]) -> bytes:
    """`signatures.json` for these signatures."""
    return (json.dumps({"signatures": entries}, indent=2, sort_keys=True) + "\n").encode()


def sign(manifest_bytes: bytes, key: Ed25519PrivateKey) -> dict[str, str]:
    """One vendor key's signature entry over a manifest."""
    return {
        "keyid": key_id(key.public_key()),
        "sig": key.sign(signature_message(manifest_bytes)).hex(),
    }


# --- Checking a bundle on the box -------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """What the box allows: its trust root, its version, its counter floor and the time."""

    trust: TrustRoot
    current_version: str
    counter_floor: int
    now: datetime
    check_expiry: bool = True
    check_counter: bool = True


def installed_version(name: str) -> str | None:
    """The installed version of a distribution in this environment (None: not installed)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_manifest(
    manifest_bytes: bytes, signatures: list[dict[str, str]], policy: Policy
) -> Manifest:
    """Signatures first (threshold of distinct trusted keys), then expiry, versions, counter and
    dependencies; UpdateRefusedError naming the first thing that fails."""
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        raise UpdateRefusedError("the manifest is too large")
    policy.trust.require_threshold(signature_message(manifest_bytes), signatures)
    manifest = Manifest.from_bytes(manifest_bytes)
    if policy.check_expiry and parse_stamp(manifest.expires) <= policy.now:
        raise UpdateRefusedError(f"the bundle expired at {manifest.expires}")
    if policy.check_counter:
        current = parse_version(policy.current_version)
        if parse_version(manifest.version) <= current:
            raise UpdateRefusedError(
                f"the bundle's version {manifest.version} is not newer than the installed "
                f"{policy.current_version}"
            )
        if current < parse_version(manifest.min_version):
            raise UpdateRefusedError(
                f"the bundle upgrades from {manifest.min_version} or later; this box runs "
                f"{policy.current_version}: install the versions in between first"
            )
        if manifest.counter <= policy.counter_floor:
            raise UpdateRefusedError(
                f"the bundle's counter {manifest.counter} is not above this box's anti-rollback "
                f"counter {policy.counter_floor} (an older or replayed release)"
            )
    missing = [
        f"{name}=={version} (installed: {installed_version(name) or 'none'})"
        for name, version in sorted(manifest.requires.items())
        if installed_version(name) != version
    ]
    if missing:
        raise UpdateRefusedError(
            "the bundle needs third-party packages this box does not have; install them into "
            "the shared environment first: " + ", ".join(missing)
        )
    return manifest


@dataclass
class OpenBundle:
    """A bundle's archive, its members checked, and its verified manifest."""

    path: Path
    archive: tarfile.TarFile
    members: dict[str, tarfile.TarInfo]
    manifest_bytes: bytes
    signatures: list[dict[str, str]]
    manifest: Manifest
    sha256: str

    def close(self) -> None:
        """Close the archive."""
        self.archive.close()

    def __enter__(self) -> OpenBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name[:-1] if member.isdir() and member.name.endswith("/") else member.name
    if name == FILES and member.isdir():
        return name
    if name in (MANIFEST, SIGNATURES):
        if not member.isreg():
            raise UpdateRefusedError(f"the bundle's {name} is not a plain file")
        return name
    safe_path(name)
    if not name.startswith(FILES + "/"):
        raise UpdateRefusedError(f"the bundle holds {name!r}, outside {FILES}/")
    return name


def _checked_members(archive: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    total = 0
    for count, member in enumerate(archive, start=1):
        if count > MAX_FILES + 16:
            raise UpdateRefusedError("the bundle holds too many entries")
        if not (member.isreg() or member.isdir()) or member.issparse():
            kind = "link" if member.issym() or member.islnk() else "special file"
            raise UpdateRefusedError(f"the bundle holds a {kind}: {member.name!r}")
        name = _member_name(member)
        if name in members:
            raise UpdateRefusedError(f"the bundle holds {name!r} twice")
        if member.isreg():
            if member.size > MAX_FILE_BYTES:
                raise UpdateRefusedError(f"{name} is larger than {MAX_FILE_BYTES} bytes")
            total += member.size
            if total > MAX_TOTAL_BYTES + 2 * MAX_MANIFEST_BYTES:
                raise UpdateRefusedError(f"the bundle is larger than {MAX_TOTAL_BYTES} bytes")
        members[name] = member
    return members


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo | None, limit: int) -> bytes:
    if member is None:
        raise UpdateRefusedError("the bundle lacks its manifest or its signatures")
    if member.size > limit:
        raise UpdateRefusedError(f"the bundle's {member.name} is too large")
    handle = archive.extractfile(member)
    if handle is None:
        raise UpdateRefusedError(f"the bundle's {member.name} cannot be read")
    with handle:
        return handle.read(limit + 1)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def open_bundle(path: Path, policy: Policy) -> OpenBundle:
    """Open and check a bundle: its entries, signatures, manifest and that the archive holds
    exactly the listed files at the listed sizes (hashes are checked as they are written)."""
    if not path.is_file() or path.is_symlink():
        raise UpdateRefusedError(f"{path} is not a bundle file")
    if path.stat().st_size > MAX_TOTAL_BYTES + 4 * MAX_MANIFEST_BYTES:
        raise UpdateRefusedError(f"{path} is larger than a bundle may be")
    digest = file_sha256(path)
    try:
        archive = tarfile.open(path, "r:*")  # noqa: SIM115 - kept open in the OpenBundle
    except (tarfile.TarError, OSError) as exc:
        raise UpdateRefusedError(f"{path} is not a tar archive ({exc})") from None
    try:
        members = _checked_members(archive)
        manifest_bytes = _read_member(archive, members.get(MANIFEST), MAX_MANIFEST_BYTES)
        signatures = parse_signatures(
            _read_member(archive, members.get(SIGNATURES), MAX_MANIFEST_BYTES)
        )
        manifest = check_manifest(manifest_bytes, signatures, policy)
        listed = {f"{FILES}/{entry.path}": entry for entry in manifest.files}
        held = {name: m for name, m in members.items() if name.startswith(FILES + "/")}
        held_files = {name for name, m in held.items() if m.isreg()}
        if extra := sorted(held_files - set(listed)):
            raise UpdateRefusedError(
                f"the bundle holds files its manifest does not list: {extra[0]}"
            )
        if missing := sorted(set(listed) - held_files):
            raise UpdateRefusedError(f"the bundle lacks a listed file: {missing[0]}")
        for name, entry in listed.items():
            if held[name].size != entry.size:
                raise UpdateRefusedError(f"{entry.path} has a size other than the manifest's")
    except (tarfile.TarError, EOFError, OSError) as exc:
        archive.close()
        raise UpdateRefusedError(f"{path} is damaged ({exc})") from None
    except BaseException:
        archive.close()
        raise
    return OpenBundle(path, archive, members, manifest_bytes, signatures, manifest, digest)


def _write_checked(source: IO[bytes], target: Path, entry: FileEntry) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    digest, size = hashlib.sha256(), 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(target, flags, 0o644), "wb") as out:
        while chunk := source.read(BLOCK):
            size += len(chunk)
            if size > entry.size:
                break
            digest.update(chunk)
            out.write(chunk)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise UpdateRefusedError(f"{entry.path} does not match its SHA-256 or size (altered)")


def unpack(bundle: OpenBundle, slot: Path) -> None:
    """Write the manifest's files into the empty folder `slot`, each checked against its hash."""
    for entry in bundle.manifest.files:
        member = bundle.members[f"{FILES}/{entry.path}"]
        handle = bundle.archive.extractfile(member)
        if handle is None:
            raise UpdateRefusedError(f"{entry.path} cannot be read from the bundle")
        with handle:
            _write_checked(handle, slot.joinpath(*PurePosixPath(entry.path).parts), entry)


def tree_problems(
    slot: Path, files: Sequence[FileEntry], *, ignore: Sequence[str] = ()
) -> list[str]:
    """What differs between a slot on disk and its file list: missing, altered, unexpected
    files, links and special files (`__pycache__` folders and `ignore`d top-level names aside)."""
    expected = {entry.path: entry for entry in files}
    problems: list[str] = []
    seen: set[str] = set()
    for folder, dirs, names in os.walk(slot, followlinks=False):
        base = Path(folder)
        relative_base = base.relative_to(slot)
        for name in list(dirs):
            relative = (relative_base / name).as_posix()
            if name == "__pycache__" or (base == slot and name in ignore):
                dirs.remove(name)
            elif (base / name).is_symlink():
                problems.append(f"{relative} is a link")
                dirs.remove(name)
        for name in names:
            relative = (relative_base / name).as_posix()
            if base == slot and name in ignore:
                continue
            path = base / name
            if path.is_symlink() or not path.is_file():
                problems.append(f"{relative} is a link or a special file")
                continue
            entry = expected.get(relative)
            if entry is None:
                problems.append(f"{relative} is not in the manifest")
                continue
            seen.add(relative)
            if path.stat().st_size != entry.size or file_sha256(path) != entry.sha256:
                problems.append(f"{relative} was altered")
    problems += [f"{path} is missing" for path in sorted(set(expected) - seen)]
    return problems


# --- Building and signing a bundle (vendor side) ----------------------------------------------


def source_files(source: Path) -> list[FileEntry]:
    """Every file of the appliance's packages under `source` (no `__pycache__`, no links)."""
    entries: list[FileEntry] = []
    for package in PACKAGES:
        folder = source / package
        if not (folder / "__init__.py").is_file():
            raise UpdateStateError(f"{folder} is not a package of the appliance")
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(source).as_posix()
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            if path.is_symlink():
                raise UpdateStateError(f"{relative} is a link: bundles hold plain files only")
            if path.is_file():
                entries.append(FileEntry(relative, path.stat().st_size, file_sha256(path)))
    return entries


def source_version(source: Path) -> str | None:
    """The `__version__` written in the source's `appliance/__init__.py`."""
    text = (source / "appliance" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, flags=re.MULTILINE)
    return found[1] if found else None


def _tar_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    archive.addfile(info, io.BytesIO(data))


def _write_bundle(
    out: Path,
    manifest_bytes: bytes,
    signatures: list[dict[str, str]],
    files: Iterator[tuple[str, IO[bytes], int]],
) -> None:
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        _tar_bytes(archive, MANIFEST, manifest_bytes)
        _tar_bytes(archive, SIGNATURES, signatures_bytes(signatures))
        for path, handle, size in files:
            info = tarfile.TarInfo(f"{FILES}/{path}")
            info.size, info.mode, info.mtime = size, 0o644, 0
            archive.addfile(info, handle)
    os.replace(partial, out)


def build_bundle(
    source: Path,
    out: Path,
    *,
    version: str,
    min_version: str,
    counter: int,
    expires: datetime,
    keys: Sequence[Ed25519PrivateKey],
    requires: dict[str, str] | None = None,
) -> Manifest:
    """Build `out` from the packages under `source`, signed by each of `keys`."""
    found = source_version(source)
    if found != version:
        raise UpdateStateError(
            f"{source}/appliance/__init__.py says __version__ = {found!r}, not {version!r}"
        )
    manifest = Manifest(
        version,
        min_version,
        counter,
        stamp(expires),
        stamp(datetime.now(UTC)),
        dict(requires or {}),
        tuple(source_files(source)),
    )
    try:
        manifest.check_shape()
    except UpdateRefusedError as exc:
        raise UpdateStateError(str(exc)) from None
    raw = manifest.to_bytes()

    def files() -> Iterator[tuple[str, IO[bytes], int]]:
        for entry in manifest.files:
            with (source / entry.path).open("rb") as handle:
                yield entry.path, handle, entry.size

    _write_bundle(out, raw, [sign(raw, key) for key in keys], files())
    return manifest


def add_signatures(bundle: Path, keys: Sequence[Ed25519PrivateKey]) -> int:
    """Add signatures by more vendor keys to a built bundle (each holder signs on their own
    machine); returns the number of signatures it then holds."""
    with tarfile.open(bundle, "r:*") as archive:
        members = _checked_members(archive)
        raw = _read_member(archive, members.get(MANIFEST), MAX_MANIFEST_BYTES)
        entries = parse_signatures(
            _read_member(archive, members.get(SIGNATURES), MAX_MANIFEST_BYTES)
        )
        manifest = Manifest.from_bytes(raw)
        entries += [sign(raw, key) for key in keys]

        def files() -> Iterator[tuple[str, IO[bytes], int]]:
            for entry in manifest.files:
                handle = archive.extractfile(members[f"{FILES}/{entry.path}"])
                if handle is None:
                    raise UpdateStateError(f"{entry.path} cannot be read from {bundle}")
                with handle:
                    yield entry.path, handle, entry.size

        _write_bundle(bundle, raw, entries, files())
    return len(entries)


def _requires(pins: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pin in pins:
        name, sep, version = pin.partition("==")
        if not sep or not name or not version:
            raise UpdateStateError(f"--require {pin!r}: write NAME==VERSION")
        found[name] = version
    return found


def _cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    key = Ed25519PrivateKey.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem(key))
    public = out.with_name(out.stem + ".pub.pem")
    public.write_bytes(public_key_pem(key.public_key()))
    print(
        f"private key {out} (keep it offline), public key {public}, id {key_id(key.public_key())}"
    )
    return 0


def _cmd_trust(args: argparse.Namespace) -> int:
    pairs = [(Path(path).name, load_public_key(Path(path))) for path in args.keys]
    root = TrustRoot.build(pairs, args.threshold)
    Path(args.out).write_bytes(root.to_bytes())
    print(f"{args.out}: {len(root.keys)} key(s), threshold {root.threshold}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    expires = (
        parse_stamp(args.expires)
        if args.expires
        else datetime.now(UTC).replace(microsecond=0) + timedelta(days=args.expires_in_days)
    )
    manifest = build_bundle(
        Path(args.source),
        Path(args.out),
        version=args.version,
        min_version=args.min_version,
        counter=args.counter,
        expires=expires,
        keys=[load_private_key(Path(path)) for path in args.key],
        requires=_requires(args.require),
    )
    print(
        f"{args.out}: version {manifest.version} (from {manifest.min_version}), counter "
        f"{manifest.counter}, expires {manifest.expires}, {len(manifest.files)} files, "
        f"{len(args.key)} signature(s)"
    )
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    count = add_signatures(Path(args.bundle), [load_private_key(Path(p)) for p in args.key])
    print(f"{args.bundle}: {count} signature(s)")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    with tarfile.open(args.bundle, "r:*") as archive:
        members = _checked_members(archive)
        raw = _read_member(archive, members.get(MANIFEST), MAX_MANIFEST_BYTES)
        entries = parse_signatures(
            _read_member(archive, members.get(SIGNATURES), MAX_MANIFEST_BYTES)
        )
    manifest = Manifest.from_bytes(raw)
    summary = {
        "version": manifest.version,
        "min_version": manifest.min_version,
        "counter": manifest.counter,
        "expires": manifest.expires,
        "created": manifest.created,
        "requires": manifest.requires,
        "files": len(manifest.files),
        "bytes": manifest.total_bytes,
        "signed_by": sorted({entry["keyid"] for entry in entries}),
    }
    if args.trusted_keys:
        root = TrustRoot.load(Path(args.trusted_keys))
        summary["valid_signers"] = sorted(root.signers(signature_message(raw), entries))
        summary["threshold"] = root.threshold
    print(json.dumps(summary, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """`python -m firmware.bundle`: the vendor's tools."""
    parser = argparse.ArgumentParser(prog="python -m firmware.bundle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="make a vendor signing key (PEM) and its public half")
    keygen.add_argument("--out", required=True)
    keygen.set_defaults(handler=_cmd_keygen)
    trust = sub.add_parser("trust", help="write the trusted-keys file boxes are installed with")
    trust.add_argument("keys", nargs="+", help="public (or private) key PEM files")
    trust.add_argument("--threshold", type=int, required=True)
    trust.add_argument("--out", required=True)
    trust.set_defaults(handler=_cmd_trust)
    build = sub.add_parser("build", help="build and sign a bundle from a source tree")
    build.add_argument("--source", required=True, help="folder holding the appliance's packages")
    build.add_argument("--version", required=True)
    build.add_argument("--min-version", required=True, help="lowest version it upgrades from")
    build.add_argument("--counter", type=int, required=True, help="above every earlier bundle's")
    build.add_argument("--expires", help="UTC, e.g. 2027-01-31T00:00:00Z")
    build.add_argument("--expires-in-days", type=int, default=90)
    build.add_argument("--key", action="append", default=[], help="a signing key (repeat)")
    build.add_argument("--require", action="append", default=[], help="NAME==VERSION (repeat)")
    build.add_argument("--out", required=True)
    build.set_defaults(handler=_cmd_build)
    signer = sub.add_parser("sign", help="add signatures by more vendor keys to a bundle")
    signer.add_argument("bundle")
    signer.add_argument("--key", action="append", required=True)
    signer.set_defaults(handler=_cmd_sign)
    inspect = sub.add_parser("inspect", help="show a bundle's manifest (and who signed it)")
    inspect.add_argument("bundle")
    inspect.add_argument("--trusted-keys", help="count valid signers against this file")
    inspect.set_defaults(handler=_cmd_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a vendor command; errors become one line and the error's exit code."""
    from appliance.platform.errors import ApplianceError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ApplianceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return code


if __name__ == "__main__":
    raise SystemExit(main())
