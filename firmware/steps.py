"""What the updater runs with one slot's code, in a child process of that slot.

    python -m firmware.steps health --config FILE
        the slot's health check on the data as it is: the schema is the one this code expects,
        both databases pass SQLCipher's and SQLite's integrity checks, the audit chain and its
        checkpoints verify, the readiness checks of `/readyz` pass (databases, model packs, disk;
        not the worker's heartbeat, as the appliance is stopped during an update), and the web
        application builds. The key set comes through the pipe named by APPLIANCE_KEY_FD.
    python -m firmware.steps restore --config FILE --backup DIR
        puts the databases of a backup back in place, with the code of the version that took
        the backup (so that nothing migrates it on the way). The passphrase comes through a
        pipe (APPLIANCE_PASSPHRASE_FILE=/dev/fd/N); restore verifies the backup with it.

Both print one JSON line and exit 0 when done, or print what is wrong on stderr and exit with
the error's code (52 when a health check fails).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from appliance.platform.config import ApplianceConfig, load_config
from appliance.platform.errors import ApplianceError
from appliance.store.keyring import Keyset
from firmware.util import fsync_dir

logger = logging.getLogger(__name__)

RESTORE_FOLDER = "update-restore"
REPLACED_FOLDER = "update-replaced-db"


def health_problems(config: ApplianceConfig, keyset: Keyset) -> dict[str, str]:
    """What fails in the health check of this code on this data (empty: healthy)."""
    from appliance.audit.chain import verify_store
    from appliance.jobs.readiness import OK, readiness_checks
    from appliance.store.db import integrity_problems
    from appliance.store.runtime import open_store

    problems: dict[str, str] = {}
    try:
        store = open_store(config, keyset)  # refuses a schema other than this code's
    except ApplianceError as exc:
        return {"database": str(exc)}
    try:
        found = integrity_problems(store.conn) + integrity_problems(store.vault_conn)
        if found:
            problems["integrity"] = "; ".join(found)
        chain = verify_store(store)
        if not chain.ok:
            problems["audit"] = chain.message
        checks = readiness_checks(store, config)
        checks.pop("worker", None)  # nothing runs during an update
        problems.update({name: value for name, value in checks.items() if value != OK})
        try:
            from webui import create_app

            create_app(config, store)
        except Exception as exc:
            problems["web"] = f"the web application does not build: {type(exc).__name__}: {exc}"
    finally:
        store.close()
    return problems


def restore_in_place(config: ApplianceConfig, backup: Path, passphrase_file: Path | None) -> None:
    """Put the backup's databases in place of the live ones; safe to run again after a kill.

    The backup is restored (verified, checked again) into `run/update-restore` with the code of
    this slot; then the live `db/` folder is moved aside and the restored one renamed in. A run
    that finds the restored folder without its `db/` knows the swap already happened."""
    from appliance.platform.locks import exclusive_lock

    # Alone with the data, as `migrate` is: while a restore orphaned by a killed updater still
    # runs, a second one fails (`update recover` is run again) instead of racing it.
    with exclusive_lock(config.paths.lock):
        _restore_locked(config, backup, passphrase_file)


def _restore_locked(config: ApplianceConfig, backup: Path, passphrase_file: Path | None) -> None:
    from appliance.backup.restore import restore_backup
    from appliance.store.runtime import sealer_for

    run = config.paths.run
    run.mkdir(parents=True, exist_ok=True)
    target, replaced = run / RESTORE_FOLDER, run / REPLACED_FOLDER
    for stale in run.glob(f".{RESTORE_FOLDER}.restoring-*"):
        shutil.rmtree(stale, ignore_errors=True)  # a restore a kill interrupted
    if target.exists() and not (target / "db").exists():
        # An earlier run swapped the databases in and was stopped while tidying up.
        shutil.rmtree(target)
        shutil.rmtree(replaced, ignore_errors=True)
        return
    if not target.exists():
        restore_backup(backup, target, sealer_for(config, passphrase_file=passphrase_file))
    live = config.paths.db_dir
    if live.exists():
        shutil.rmtree(replaced, ignore_errors=True)
        os.rename(live, replaced)
    os.rename(target / "db", live)
    fsync_dir(config.data_dir)
    shutil.rmtree(replaced, ignore_errors=True)
    shutil.rmtree(target)
    fsync_dir(run)


def _cmd_health(args: argparse.Namespace) -> int:
    from appliance.jobs.readiness import NotReadyError
    from appliance.store.runtime import obtain_keyset

    config = load_config(Path(args.config))
    problems = health_problems(config, obtain_keyset(config))
    print(json.dumps({"healthy": not problems, "problems": problems}))
    if problems:
        raise NotReadyError("; ".join(f"{name}: {text}" for name, text in problems.items()))
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    restore_in_place(config, Path(args.backup), None)
    print(json.dumps({"restored": Path(args.backup).name}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; an ApplianceError becomes one line on stderr and its exit code."""
    parser = argparse.ArgumentParser(prog="python -m firmware.steps", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    health = sub.add_parser("health")
    health.add_argument("--config", required=True)
    health.set_defaults(handler=_cmd_health)
    restore = sub.add_parser("restore")
    restore.add_argument("--config", required=True)
    restore.add_argument("--backup", required=True)
    restore.set_defaults(handler=_cmd_restore)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        code: int = args.handler(args)
    except ApplianceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return code


if __name__ == "__main__":
    raise SystemExit(main())
