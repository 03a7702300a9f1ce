"""Model packs: folders of model files with a manifest, verified before anything is loaded.

A pack is a folder holding `manifest.json` and the files it lists with their SHA-256; optionally
`manifest.sig` (an Ed25519 signature over the exact bytes of `manifest.json`, with the signer's
public key). Loading a pack checks, in this order and before any model file is opened: that the
pack's intended use is one the caller allows (so a pack a region forbids is never read), that the
signature verifies against a trusted key (or that none is required), that every listed file is
present with its hash, and that the folder holds nothing unlisted (an engine that reads a whole
folder, like vosk, must not pick up a planted file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMAT = 1
USES = ("speech", "face", "affect", "text")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HASH_CHUNK = 1 << 20
# An imported archive may not unpack to more than this (a zip bomb is refused, not unpacked).
MAX_UNPACKED_BYTES = 8 << 30


class PackError(Exception):
    """A model pack cannot be used."""


class PackNotFoundError(PackError):
    """No installed pack has that name."""


class PackManifestError(PackError):
    """The manifest is missing, unreadable or malformed."""


class PackIntegrityError(PackError):
    """A file of the pack is missing, changed, or not listed in the manifest."""


class PackSignatureError(PackError):
    """The manifest's signature is missing where required, invalid, or from an untrusted key."""


class PackUseError(PackError):
    """The pack is meant for a use the caller does not allow (e.g. affect in the EU)."""


@dataclass(frozen=True)
class PackManifest:
    """What a pack says about itself."""

    name: str
    version: str
    licence: str
    source: str
    use: str
    engine: str
    languages: tuple[str, ...]
    files: dict[str, str]
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        """The manifest as written to `manifest.json`."""
        return {
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "licence": self.licence,
            "source": self.source,
            "use": self.use,
            "engine": self.engine,
            "languages": list(self.languages),
            "description": self.description,
            "files": dict(sorted(self.files.items())),
        }

    @property
    def size_note(self) -> str:
        """How many files the pack has (for listings)."""
        return f"{len(self.files)} files"


@dataclass(frozen=True)
class VerifiedPack:
    """A pack whose use, signature and file hashes were checked; hand its paths to an engine."""

    manifest: PackManifest
    root: Path
    signed_by: str | None = None
    total_bytes: int = 0

    def path(self, relative: str) -> Path:
        """The path of a file listed in the manifest."""
        if relative not in self.manifest.files:
            raise PackIntegrityError(f"pack {self.manifest.name!r} has no file {relative!r}")
        return self.root / relative


def _safe_relative(name: str) -> str:
    """A manifest file name, refused when it could leave the pack folder."""
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or any(part in {"", ".", ".."} for part in path.parts)
        or "\\" in name
        or "\x00" in name
    ):
        raise PackManifestError(f"unsafe file name in manifest: {name!r}")
    return str(path)


def parse_manifest(raw: bytes) -> PackManifest:
    """Validate the bytes of a `manifest.json`."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackManifestError(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PackManifestError("manifest must be a JSON object")
    if data.get("format") != FORMAT:
        raise PackManifestError(f"unknown manifest format {data.get('format')!r}")
    missing = [
        key
        for key in ("name", "version", "licence", "source", "use", "engine", "languages", "files")
        if key not in data
    ]
    if missing:
        raise PackManifestError(f"manifest lacks {', '.join(missing)}")
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise PackManifestError(f"bad pack name {name!r} (lower-case letters, digits, . _ -)")
    if data["use"] not in USES:
        raise PackManifestError(f"unknown use {data['use']!r} (one of {', '.join(USES)})")
    files = data["files"]
    if not isinstance(files, dict) or not files:
        raise PackManifestError("manifest lists no files")
    checked: dict[str, str] = {}
    for file_name, digest in files.items():
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise PackManifestError(f"bad SHA-256 for {file_name!r}")
        checked[_safe_relative(str(file_name))] = digest
    languages = data["languages"]
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise PackManifestError("languages must be a list of language codes")
    return PackManifest(
        name=name,
        version=str(data["version"]),
        licence=str(data["licence"]),
        source=str(data["source"]),
        use=data["use"],
        engine=str(data["engine"]),
        languages=tuple(languages),
        files=checked,
        description=str(data.get("description", "")),
    )


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _listed_tree(root: Path) -> set[str]:
    found = set()
    for dirpath, _dirs, files in os.walk(root):
        for file_name in files:
            relative = Path(dirpath, file_name).relative_to(root).as_posix()
            if relative not in {MANIFEST, SIGNATURE}:
                found.add(relative)
    return found


def _check_signature(
    root: Path, raw_manifest: bytes, trusted_keys: Sequence[str], require_signed: bool
) -> str | None:
    signature_path = root / SIGNATURE
    if not signature_path.exists():
        if require_signed:
            raise PackSignatureError(
                f"pack at {root.name!r} is not signed and signatures are required"
            )
        return None
    try:
        envelope = json.loads(signature_path.read_bytes())
        key_hex = str(envelope["key"]).lower()
        signature = bytes.fromhex(str(envelope["signature"]))
        public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
    except (ValueError, KeyError, TypeError) as exc:
        raise PackSignatureError(f"unreadable signature file: {exc}") from exc
    if key_hex not in {key.lower() for key in trusted_keys}:
        raise PackSignatureError(
            f"pack {root.name!r} is signed by an untrusted key {key_hex[:16]}…"
        )
    try:
        public_key.verify(signature, raw_manifest)
    except InvalidSignature as exc:
        raise PackSignatureError(
            f"pack {root.name!r}: the manifest signature does not verify"
        ) from exc
    return key_hex


def read_manifest(root: Path) -> PackManifest:
    """The manifest of a pack folder, validated but without checking files."""
    try:
        raw = (root / MANIFEST).read_bytes()
    except OSError as exc:
        raise PackManifestError(f"{root.name}: no readable {MANIFEST}") from exc
    return parse_manifest(raw)


def verify_pack(
    root: Path,
    *,
    trusted_keys: Sequence[str] = (),
    require_signed: bool = False,
    allowed_uses: Collection[str] | None = None,
) -> VerifiedPack:
    """Check a pack folder completely; raise a `PackError` naming the first problem."""
    try:
        raw = (root / MANIFEST).read_bytes()
    except OSError as exc:
        raise PackManifestError(f"{root.name}: no readable {MANIFEST}") from exc
    manifest = parse_manifest(raw)
    # The use is decided before any model file is opened: a forbidden pack is never read.
    if allowed_uses is not None and manifest.use not in allowed_uses:
        raise PackUseError(
            f"pack {manifest.name!r} is for {manifest.use!r}, which is not allowed here"
        )
    signer = _check_signature(root, raw, trusted_keys, require_signed)
    total = 0
    for relative, expected in manifest.files.items():
        path = root / relative
        if path.is_symlink() or not path.is_file():
            raise PackIntegrityError(f"pack {manifest.name!r}: {relative} is missing")
        if sha256_file(path) != expected:
            raise PackIntegrityError(
                f"pack {manifest.name!r}: {relative} does not match its SHA-256 "
                "(changed or damaged)"
            )
        total += path.stat().st_size
    extra = _listed_tree(root) - set(manifest.files)
    if extra:
        raise PackIntegrityError(
            f"pack {manifest.name!r} holds files its manifest does not list: "
            + ", ".join(sorted(extra)[:5])
        )
    return VerifiedPack(manifest=manifest, root=root, signed_by=signer, total_bytes=total)


def write_manifest(
    root: Path,
    *,
    name: str,
    version: str,
    licence: str,
    source: str,
    use: str,
    engine: str,
    languages: Iterable[str],
    description: str = "",
    signing_key: Ed25519PrivateKey | None = None,
) -> PackManifest:
    """Hash every file under `root` and write its manifest (and signature when a key is given)."""
    files = {relative: sha256_file(root / relative) for relative in sorted(_listed_tree(root))}
    manifest = PackManifest(
        name=name,
        version=version,
        licence=licence,
        source=source,
        use=use,
        engine=engine,
        languages=tuple(languages),
        files=files,
        description=description,
    )
    parse_manifest(json.dumps(manifest.to_json()).encode())  # the same rules as on load
    raw = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False).encode() + b"\n"
    (root / MANIFEST).write_bytes(raw)
    (root / SIGNATURE).unlink(missing_ok=True)
    if signing_key is not None:
        sign_manifest(root, signing_key)
    return manifest


def sign_manifest(root: Path, signing_key: Ed25519PrivateKey) -> str:
    """Sign the pack's manifest bytes; returns the signer's public key (hex)."""
    raw = (root / MANIFEST).read_bytes()
    public_hex = signing_key.public_key().public_bytes_raw().hex()
    envelope = {"key": public_hex, "signature": signing_key.sign(raw).hex()}
    (root / SIGNATURE).write_text(json.dumps(envelope) + "\n", encoding="utf-8")
    return public_hex


@dataclass
class PackRegistry:
    """The installed packs in an ordered list of folders (the first folder with a name wins)."""

    dirs: Sequence[Path]
    trusted_keys: Sequence[str] = ()
    require_signed: bool = False
    _verified: dict[tuple[str, str], VerifiedPack] = field(default_factory=dict, repr=False)

    def _roots(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for folder in self.dirs:
            if not folder.is_dir():
                continue
            for child in sorted(folder.iterdir()):
                if child.is_dir() and (child / MANIFEST).is_file() and child.name not in found:
                    found[child.name] = child
        return found

    def installed(self) -> list[tuple[PackManifest | None, Path, str | None]]:
        """Every pack folder with its manifest (or the reason it cannot be read)."""
        result: list[tuple[PackManifest | None, Path, str | None]] = []
        for root in self._roots().values():
            try:
                result.append((read_manifest(root), root, None))
            except PackError as exc:
                result.append((None, root, str(exc)))
        return result

    def root_of(self, name: str) -> Path:
        """The folder of the pack called `name`."""
        roots = self._roots()
        if name not in roots:
            known = ", ".join(sorted(roots)) or "none"
            raise PackNotFoundError(f"no model pack {name!r} is installed (installed: {known})")
        return roots[name]

    def manifest(self, name: str) -> PackManifest:
        """The manifest of an installed pack, without checking its files."""
        return read_manifest(self.root_of(name))

    def load(self, name: str, *, allowed_uses: Collection[str] | None = None) -> VerifiedPack:
        """Verify and return a pack; verification is remembered for this registry object."""
        root = self.root_of(name)
        manifest = read_manifest(root)
        if allowed_uses is not None and manifest.use not in allowed_uses:
            raise PackUseError(f"pack {name!r} is for {manifest.use!r}, which is not allowed here")
        key = (name, str(root))
        if key not in self._verified:
            self._verified[key] = verify_pack(
                root,
                trusted_keys=self.trusted_keys,
                require_signed=self.require_signed,
                allowed_uses=allowed_uses,
            )
        return self._verified[key]


def _unpack(archive: Path, into: Path) -> None:
    total = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                total += info.file_size
                if total > MAX_UNPACKED_BYTES:
                    raise PackManifestError("archive unpacks to more than the allowed size")
                _safe_relative(info.filename.rstrip("/") or "x")
                if info.is_dir():
                    continue
                target = into / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
        return
    try:
        with tarfile.open(archive) as bundle:
            members = bundle.getmembers()
            for member in members:
                if not (member.isfile() or member.isdir()):
                    raise PackManifestError(f"archive member {member.name!r} is not a plain file")
                _safe_relative(member.name.rstrip("/") or "x")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise PackManifestError("archive unpacks to more than the allowed size")
            bundle.extractall(into, members=members, filter="data")
    except tarfile.TarError as exc:
        raise PackManifestError(f"not a pack archive (zip or tar): {exc}") from exc


def _pack_folder(unpacked: Path) -> Path:
    if (unpacked / MANIFEST).is_file():
        return unpacked
    children = [child for child in unpacked.iterdir()]
    if len(children) == 1 and children[0].is_dir() and (children[0] / MANIFEST).is_file():
        return children[0]
    raise PackManifestError(f"the archive holds no {MANIFEST} at its top")


STAGING_PREFIX = ".import-"
RETIRED_PREFIX = ".retired-"
STAGING_STALE_S = 600.0


def sweep_staging(packs_dir: Path, *, older_than_s: float = STAGING_STALE_S) -> list[str]:
    """Delete what imports killed mid-way left behind (staging and retired folders untouched
    for `older_than_s`); returns their names."""
    removed = []
    cutoff = time.time() - older_than_s
    for entry in packs_dir.iterdir() if packs_dir.is_dir() else ():
        if not entry.name.startswith((STAGING_PREFIX, RETIRED_PREFIX)) or entry.is_symlink():
            continue
        if entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
            logger.warning("removed %s left by an interrupted pack import", entry.name)
    return removed


def import_pack(
    source: Path,
    packs_dir: Path,
    *,
    trusted_keys: Sequence[str] = (),
    require_signed: bool = False,
    replace: bool = False,
) -> VerifiedPack:
    """Install a pack from a folder or a zip/tar archive; verified in staging, then moved in."""
    packs_dir.mkdir(parents=True, exist_ok=True)
    # Packs are the box's own files, like everything else in the data directory.
    packs_dir.chmod(0o700)
    sweep_staging(packs_dir)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=packs_dir))
    try:
        if source.is_dir():
            folder = staging / "pack"
            shutil.copytree(source, folder, symlinks=True)
        elif source.is_file():
            _unpack(source, staging)
            folder = _pack_folder(staging)
        else:
            raise PackError(f"{source} is neither a pack folder nor an archive")
        verified = verify_pack(folder, trusted_keys=trusted_keys, require_signed=require_signed)
        target = packs_dir / verified.manifest.name
        if target.exists():
            if not replace:
                raise PackError(
                    f"pack {verified.manifest.name!r} is already installed (use --replace)"
                )
            retired = packs_dir / f"{RETIRED_PREFIX}{verified.manifest.name}"
            shutil.rmtree(retired, ignore_errors=True)
            target.rename(retired)
            folder.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            folder.rename(target)
        logger.info("installed model pack %s %s", verified.manifest.name, verified.manifest.version)
        return VerifiedPack(
            manifest=verified.manifest,
            root=target,
            signed_by=verified.signed_by,
            total_bytes=verified.total_bytes,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
