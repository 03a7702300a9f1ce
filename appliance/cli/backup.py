"""`python -m appliance backup create|verify|restore`: backups you can restore.

    backup create --to DIR [--keep N] [--config FILE | --data-dir DIR] [--passphrase-file F]
    backup verify DIR/BACKUP [--passphrase-file F]
    backup restore DIR/BACKUP --data-dir NEW_DIR [--passphrase-file F] [--ledger FILE]

A backup opens only with the operator passphrase in force when it was taken (docs/operations.md).
`verify` and `restore` exit 48 when a backup does not verify, 3 on a wrong passphrase; `restore`
exits 10 when the target already holds an appliance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from appliance.cli.common import add_config_arguments, load


def _sealer(args: argparse.Namespace) -> Any:
    from appliance.security.passphrase import obtain_passphrase
    from appliance.security.sealing import PassphraseSealer

    return PassphraseSealer(obtain_passphrase(file=args.passphrase_file))


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"


def cmd_backup_create(args: argparse.Namespace) -> int:
    """Write a consistent, encrypted, signed backup into a folder (rotated with --keep)."""
    from appliance.backup.create import create_backup
    from appliance.platform.locks import shared_lock
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    with shared_lock(config.paths.lock):
        store = open_store(config, keyset)
        try:
            created = create_backup(store, config, Path(args.to).absolute(), keep=args.keep)
        finally:
            store.close()
    manifest = created.manifest
    print(
        f"backup {created.path} written: {len(manifest.files)} files, "
        f"{_size(manifest.total_bytes)}, schema version {manifest.schema_version}, "
        f"in {created.seconds:.1f} s"
    )
    for path in created.pruned:
        print(f"deleted the older backup {path.name} (--keep {args.keep})")
    return 0


def cmd_backup_verify(args: argparse.Namespace) -> int:
    """Check a backup's files against its signed manifest and open both databases read-only."""
    from appliance.backup.verify import verify_backup

    verified = verify_backup(Path(args.backup), _sealer(args))
    manifest = verified.manifest
    print(
        f"ok: {Path(args.backup).name} taken {manifest.created_at} by appliance "
        f"{manifest.appliance_version}, schema version {manifest.schema_version}, "
        f"{len(manifest.files)} files ({_size(manifest.total_bytes)}) intact, "
        "both databases open and pass their integrity checks"
    )
    return 0


def cmd_backup_restore(args: argparse.Namespace) -> int:
    """Restore a verified backup into a new, empty data directory; re-apply later erasures."""
    from appliance.backup.files import BackupError
    from appliance.backup.restore import restore_backup

    backup = Path(args.backup)
    restored = restore_backup(
        backup,
        Path(args.data_dir),
        _sealer(args),
        ledger=Path(args.ledger) if args.ledger else None,
    )
    print(f"restored {backup.name} (taken {restored.manifest.created_at}) into {restored.data_dir}")
    if restored.migrated_to is not None:
        print(f"brought the schema up to version {restored.migrated_to}")
    if restored.ledger is None:
        print(
            f"warning: no erasure ledger at {restored.ledger_path}: candidates erased after "
            f"{restored.manifest.created_at} are readable again in this restore. Erase each "
            "of them again now, before the appliance serves (see the data-subject requests).",
            file=sys.stderr,
        )
    else:
        print(
            f"re-applied {len(restored.reapplied)} erasure(s) made after the backup "
            f"(erasure ledger written {restored.ledger.written_at})"
        )
        print(
            f"note: erasures made after {restored.ledger.written_at} are not in the ledger: "
            "erase those candidates again before the appliance serves",
            file=sys.stderr,
        )
    if restored.held:
        raise BackupError(
            f"restored, but {len(restored.held)} erasure(s) could not be re-applied because the "
            "backup shows a legal hold on the candidate (released later on the appliance): "
            f"{', '.join(restored.held)}; release those holds and erase the candidates again"
        )
    print(f"start it with: python -m appliance serve --data-dir {restored.data_dir}")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `backup create|verify|restore` to the subparsers of `cli.main.build_parser`."""
    backup: argparse.ArgumentParser = subparsers.add_parser(
        "backup", help="create, verify or restore a backup"
    )
    commands = backup.add_subparsers(dest="backup_command", required=True)

    create = commands.add_parser("create", help=(cmd_backup_create.__doc__ or "").strip())
    create.set_defaults(handler=cmd_backup_create)
    add_config_arguments(create)
    create.add_argument("--to", required=True, help="the backup folder (best on another disk)")
    create.add_argument("--keep", type=int, help="keep only the newest N backups in the folder")

    verify = commands.add_parser("verify", help=(cmd_backup_verify.__doc__ or "").strip())
    verify.set_defaults(handler=cmd_backup_verify)
    verify.add_argument("backup", help="the backup's folder (DIR/backup-...)")
    verify.add_argument("--passphrase-file", type=Path, help="file holding the passphrase")

    restore = commands.add_parser("restore", help=(cmd_backup_restore.__doc__ or "").strip())
    restore.set_defaults(handler=cmd_backup_restore)
    restore.add_argument("backup", help="the backup's folder (DIR/backup-...)")
    restore.add_argument(
        "--data-dir", required=True, help="the new data directory (empty or not yet there)"
    )
    restore.add_argument("--passphrase-file", type=Path, help="file holding the passphrase")
    restore.add_argument(
        "--ledger", help="the erasure ledger to re-apply (default: DIR/erasure-ledger.json)"
    )
    return backup
