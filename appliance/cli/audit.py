"""`python -m appliance audit verify|export|checkpoint`: the tamper-evident audit log (ALL-3).

    audit verify [--config FILE | --data-dir DIR] [--json]
    audit verify --export FILE [--public-key PEM] [--config FILE] [--json]   (offline)
    audit export --out FILE [--config FILE | --data-dir DIR]
    audit checkpoint [--config FILE | --data-dir DIR]

`verify` prints "ok: N entries, last checkpoint at seq S" and exits 0, or prints the first
problem ("entry 17 was altered", "entries 18\u201320 were removed", "entry 12 is out of order",
"the log was truncated after entry 40; checkpoint covers 45", "the checkpoint at seq 45 has
an invalid signature") and exits 21. With --export it reads no store and needs no passphrase.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from appliance.audit.chain import EXIT_TAMPERED, VerifyResult
from appliance.cli.common import add_config_arguments, load
from appliance.platform.errors import ApplianceError


def _report(result: VerifyResult, as_json: bool) -> int:
    if as_json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.message)
    return 0 if result.ok else EXIT_TAMPERED


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ApplianceError(f"cannot read the public key {path}: {exc.strerror}") from None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Verify the audit log's hash chain and signed checkpoints (exit 21 on the first problem)."""
    from appliance.audit.chain import verify_store
    from appliance.audit.log_export import verify_export

    if args.export:
        key: bytes | None = None
        if args.public_key:
            key = _read_key(Path(args.public_key))
        elif args.config or args.data_dir:
            # The key this appliance published at unlock: readable without the passphrase.

            published = load(args).paths.device_public_key
            if published.exists():
                key = published.read_bytes()
        if key is None:
            print(
                "note: no --public-key given: checked against the key inside the export, "
                "which proves consistency, not origin",
                file=sys.stderr,
            )
        return _report(verify_export(Path(args.export), key), args.json)
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    store = open_store(config, obtain_keyset(config, passphrase_file=args.passphrase_file))
    try:
        given = _read_key(Path(args.public_key)) if args.public_key else None
        result = verify_store(store, given)
    finally:
        store.close()
    return _report(result, args.json)


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write the audit log, its checkpoints and the device public key as JSONL for auditors."""
    from appliance.audit.log_export import export_log
    from appliance.platform.locks import shared_lock
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    out = Path(args.out)
    with shared_lock(config.paths.lock):
        store = open_store(config, keyset)
        try:
            export_log(store, out, actor="operator")
        finally:
            store.close()
    print(f"exported the audit log to {out}")
    return 0


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    """Sign a checkpoint of the audit log's current head now."""
    from appliance.audit.chain import make_checkpoint
    from appliance.platform.locks import shared_lock
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    with shared_lock(config.paths.lock):
        store = open_store(config, keyset)
        try:
            made = make_checkpoint(store)
        finally:
            store.close()
    print(
        f"checkpoint at seq {made.seq} ({made.entry_count} entries), "
        f"key {made.key_fingerprint[:16]}"
    )
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `audit verify|export|checkpoint` to the subparsers of `cli.main.build_parser`."""
    audit: argparse.ArgumentParser = subparsers.add_parser(
        "audit", help="verify, export or checkpoint the audit log"
    )
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser("verify", help=(cmd_audit_verify.__doc__ or "").strip())
    verify.set_defaults(handler=cmd_audit_verify)
    add_config_arguments(verify)
    verify.add_argument("--export", help="verify this export file offline (no passphrase)")
    verify.add_argument("--public-key", help="the device's public key (PEM) to check against")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")

    export = commands.add_parser("export", help=(cmd_audit_export.__doc__ or "").strip())
    export.set_defaults(handler=cmd_audit_export)
    add_config_arguments(export)
    export.add_argument("--out", required=True, help="the JSONL file to write (mode 0600)")

    checkpoint = commands.add_parser(
        "checkpoint", help=(cmd_audit_checkpoint.__doc__ or "").strip()
    )
    checkpoint.set_defaults(handler=cmd_audit_checkpoint)
    add_config_arguments(checkpoint)
    return audit
