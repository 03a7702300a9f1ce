"""The operator's command line: provision, migrate, rekey, worker, serve, ingest, status, check."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from appliance.cli.common import add_config_arguments, config_file, load, setup_logging
from appliance.platform.config import (
    ApplianceConfig,
    format_errors,
    load_config,
    read_toml,
)
from appliance.platform.errors import ApplianceError, ConfigError
from appliance.platform.executable import command_name
from appliance.platform.paths import DataPaths

logger = logging.getLogger("appliance")


def cmd_validate_config(args: argparse.Namespace) -> int:
    """Validate a config file; print every error with its location."""
    path = Path(args.file)
    data = read_toml(path)
    if "data_dir" in data and isinstance(data["data_dir"], str):
        data["data_dir"] = str(path.resolve().parent / data["data_dir"])
    try:
        ApplianceConfig(**data)
    except ValidationError as exc:
        for line in format_errors(exc, str(path)):
            print(line, file=sys.stderr)
        return ConfigError.exit_code
    print(f"{path}: valid")
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    """Create a new appliance in a data directory."""
    from appliance.cli.demo import DEMO_PASSWORD, load_demo_data
    from appliance.security.outbound import guard_process
    from appliance.security.passphrase import check_new_passphrase, obtain_passphrase
    from appliance.security.sealing import PassphraseSealer
    from appliance.store.keyring import unlock
    from appliance.store.runtime import open_store
    from provisioning.provision import is_provisioned, provision

    data_dir = Path(args.data_dir).expanduser().absolute()
    paths = DataPaths(data_dir)
    if is_provisioned(paths) and args.if_needed:
        print(f"{data_dir} is already provisioned")
        return 0
    config = (
        load_config(paths.config) if paths.config.exists() else ApplianceConfig(data_dir=data_dir)
    )
    setup_logging(config.logging.level)
    guard_process(config)
    passphrase = obtain_passphrase(
        file=args.passphrase_file or config.keys.passphrase_file,
        confirm=True,
        prompt="New operator passphrase: ",
    )
    sealer = PassphraseSealer(check_new_passphrase(passphrase), log2_n=config.keys.scrypt_log2_n)
    result = provision(config, sealer)
    print(f"provisioned {data_dir}")
    if result.tls_fingerprint:
        # What the operator compares with the browser's certificate view on the first visit.
        print(f"web UI certificate (self-signed), SHA-256 fingerprint: {result.tls_fingerprint}")
    if result.admin_password:
        # Shown once on the operator's terminal, never logged or stored in clear.
        print(
            f"first administrator: {result.admin_username} / {result.admin_password}"
            " (a one-time password: the first sign-in asks for a new one)"
        )
    if args.demo:
        store = open_store(config, unlock(config.paths, sealer))
        try:
            made = load_demo_data(store, config)
        finally:
            store.close()
        print(f"demo data loaded: {json.dumps(made)}; demo accounts use {DEMO_PASSWORD}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending schema migrations after taking an encrypted backup."""
    from appliance.platform.locks import exclusive_lock
    from appliance.store.db import Database
    from appliance.store.migrate import apply, current_version
    from appliance.store.runtime import obtain_keyset, open_store
    from appliance.store.sealed import backups_before_sealing, seal_existing_rows

    config = load(args)
    with exclusive_lock(config.paths.lock):
        keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
        database = Database.open(
            config.paths.database, keyset.db, busy_timeout_ms=config.db.busy_timeout_ms
        )
        conn = database.connect()
        try:
            applied, backup = apply(
                database, conn, keyset.db, config.paths.backups, config.db.backups_keep
            )
            version = current_version(conn)
        finally:
            conn.close()
        store = open_store(config, keyset)
        try:
            if applied:
                with store.transaction():
                    store.audit.append(
                        "operator",
                        "schema.migrated",
                        details={"to": version, "backup": backup.name if backup else None},
                    )
            # Candidate fields written before they were sealed get sealed now (idempotent).
            sealed = seal_existing_rows(store)
        finally:
            store.close()
    if backup:
        print(f"backup: {backup}")
    print(f"applied {len(applied)} migration(s); schema version {version}")
    if sum(sealed.values()):
        older = backups_before_sealing(config.paths.backups)
        print(
            "sealed candidate fields; destroy these older backups, which still hold them in "
            "clear: " + (", ".join(path.name for path in older) or "none")
        )
    return 0


def cmd_rekey(args: argparse.Namespace) -> int:
    """Seal the keys under a new passphrase, and optionally rotate the database key."""
    from appliance.security.passphrase import (
        check_new_passphrase,
        obtain_passphrase,
        read_passphrase_file,
    )
    from appliance.security.sealing import PassphraseSealer
    from provisioning.rekey import change_passphrase, rotate_database_key

    config = load(args)
    old_passphrase = obtain_passphrase(file=args.passphrase_file or config.keys.passphrase_file)
    old = PassphraseSealer(old_passphrase, log2_n=config.keys.scrypt_log2_n)
    if args.new_passphrase_file:
        new_passphrase = read_passphrase_file(Path(args.new_passphrase_file))
    elif os.environ.get("APPLIANCE_NEW_PASSPHRASE"):
        new_passphrase = os.environ["APPLIANCE_NEW_PASSPHRASE"]
    elif args.rotate_db_key:
        new_passphrase = old_passphrase  # rotating the key alone keeps the passphrase
    else:
        import getpass

        new_passphrase = getpass.getpass("New operator passphrase: ")
        if getpass.getpass("Repeat the passphrase: ") != new_passphrase:
            raise ApplianceError("the two passphrases differ")
    new = PassphraseSealer(check_new_passphrase(new_passphrase), log2_n=config.keys.scrypt_log2_n)
    if args.rotate_db_key:
        kept = rotate_database_key(config, old, new)
        print(f"database key rotated; the previous file is kept as backups/{kept}")
    else:
        change_passphrase(config, old, new)
        print("the keys are now sealed under the new passphrase")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the analysis worker until stopped."""
    from appliance.jobs.worker import Worker, WorkerStopping, lower_priority
    from appliance.platform.locks import shared_lock
    from appliance.platform.memory import limit_malloc_arenas
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    limit_malloc_arenas(config.worker.malloc_arenas)  # before any engine starts its threads
    if args.nice:
        lower_priority(args.nice)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    with shared_lock(config.paths.lock):
        store = open_store(config, keyset)
        kinds = [k for k in (args.only_kinds or "").split(",") if k] or None
        excluded = [k for k in (args.except_kinds or "").split(",") if k]
        worker = Worker(
            config, store, kinds=kinds, exclude_kinds=excluded, chores=not args.no_chores
        )
        worker.install_signal_handlers()
        worker.register()
        logger.info("worker %s started", worker.id)
        try:
            ran = worker.run_forever(exit_when_idle=args.exit_when_idle)
        except WorkerStopping:
            ran = -1
        logger.info("worker %s stopped after %s job(s)", worker.id, ran)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the web UI (gunicorn) and the worker as two processes."""
    from appliance.cli.serve import serve
    from appliance.store.runtime import obtain_keyset

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    return serve(config, keyset, config_file(args).resolve())


def cmd_ingest(args: argparse.Namespace) -> int:
    """Store a recording for an interview and queue its analysis."""
    from appliance.media.recordings import ingest_recording
    from appliance.media.spool import Spool
    from appliance.platform.locks import shared_lock
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    with shared_lock(config.paths.lock):
        store = open_store(config, keyset)
        spool = Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)
        with open(args.file, "rb") as source:
            done = ingest_recording(
                store,
                spool,
                config,
                interview_id=args.interview,
                source=source,
                filename=Path(args.file).name,
                actor="operator",
            )
        store.close()
    print(json.dumps({"recording": done.recording.id, "job": done.job.id}))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print schema version, queue counts and recent jobs as JSON (no personal data)."""
    from appliance.jobs.status import queue_status
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    store = open_store(
        config, obtain_keyset(config, passphrase_file=args.passphrase_file), check_schema=False
    )
    try:
        status = queue_status(store, recent=args.limit)
    finally:
        store.close()
    print(json.dumps(status, indent=2))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run SQLCipher's and SQLite's integrity checks and verify the audit chain."""
    from appliance.audit.chain import verify_store
    from appliance.store.db import integrity_problems
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    store = open_store(
        config, obtain_keyset(config, passphrase_file=args.passphrase_file), check_schema=False
    )
    try:
        problems = [f"database: {p}" for p in integrity_problems(store.conn)]
        problems += [f"vault: {p}" for p in integrity_problems(store.vault_conn)]
        chain = verify_store(store)
        if not chain.ok:
            problems.append(f"audit log: {chain.message}")
    finally:
        store.close()
    for problem in problems:
        print(problem, file=sys.stderr)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 6


def cmd_compact(args: argparse.Namespace) -> int:
    """Rewrite both databases without free space and switch them to incremental vacuum."""
    from appliance.platform.locks import exclusive_lock
    from appliance.store.maintenance import compact, database_figures
    from appliance.store.runtime import obtain_keyset, open_store

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    # Alone with the store: VACUUM holds the write lock for its whole run.
    with exclusive_lock(config.paths.lock):
        store = open_store(config, keyset)
        try:
            for name, conn, path in (
                ("database", store.conn, config.paths.database),
                ("vault", store.vault_conn, config.paths.vault),
            ):
                before = database_figures(conn, path)["file_bytes"]
                compact(conn)
                after = database_figures(conn, path)["file_bytes"]
                print(f"{name}: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
        finally:
            store.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m appliance`."""
    parser = argparse.ArgumentParser(prog=command_name(), description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], *, needs_config: bool = True
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=(handler.__doc__ or "").strip())
        command.set_defaults(handler=handler)
        if needs_config:
            add_config_arguments(command)
        return command

    validate = add("validate-config", cmd_validate_config, needs_config=False)
    validate.add_argument("file")

    provision = add("provision", cmd_provision, needs_config=False)
    provision.add_argument("--data-dir", required=True)
    provision.add_argument("--demo", action="store_true", help="load fictional demo data")
    provision.add_argument("--passphrase-file", type=Path)
    provision.add_argument(
        "--if-needed",
        action="store_true",
        help="succeed quietly when the directory is already provisioned",
    )

    add("migrate", cmd_migrate)
    rekey = add("rekey", cmd_rekey)
    rekey.add_argument(
        "--rotate-db-key",
        action="store_true",
        help="also re-encrypt the database under a new random key",
    )
    rekey.add_argument("--new-passphrase-file", type=Path)
    worker = add("worker", cmd_worker)
    worker.add_argument("--exit-when-idle", action="store_true")
    worker.add_argument("--only-kinds", help="comma-separated job kinds this worker takes")
    worker.add_argument("--except-kinds", help="comma-separated job kinds this worker leaves")
    worker.add_argument("--no-chores", action="store_true", help="do not run the idle-time chores")
    worker.add_argument(
        "--nice", type=int, default=0, help="run at this CPU niceness, with low I/O priority"
    )
    add("serve", cmd_serve)
    ingest = add("ingest", cmd_ingest)
    ingest.add_argument("--interview", type=int, required=True)
    ingest.add_argument("file")
    status = add("status", cmd_status)
    status.add_argument("--limit", type=int, default=20)
    add("check", cmd_check)
    add("compact", cmd_compact)

    from appliance.cli.audit import register as register_audit
    from appliance.cli.imports import add_import_arguments, cmd_import

    register_audit(sub)  # audit verify|export|checkpoint (ALL-3)
    from appliance.cli.packs import register as register_packs

    register_packs(sub)  # packs build|import|list|verify
    from appliance.cli.backup import register as register_backup

    register_backup(sub)  # backup create|verify|restore
    from appliance.cli.media_check import register as register_media_check

    register_media_check(sub)  # transcribe FILE, look FILE
    from appliance.cli.scoring import register as register_scoring

    register_scoring(sub)  # scoring evaluate
    from appliance.cli.tls import register as register_tls

    register_tls(sub)  # tls show|import|renew
    from appliance.cli.watchdog import register as register_watchdog

    register_watchdog(sub)  # watchdog [--once] [--interval S]
    from appliance.cli.healthcheck import register as register_healthcheck

    register_healthcheck(sub)  # healthcheck [--timeout S]
    from appliance.cli.update import register as register_update

    register_update(sub)  # update init|stage|apply|status|rollback|recover
    add_import_arguments(add("import", cmd_import))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; an ApplianceError becomes one line on stderr and its exit code."""
    from appliance.platform.executable import WEB_SERVER_COMMAND, run_web_server

    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == [WEB_SERVER_COMMAND]:
        # serve's web child: gunicorn parses its own options (not listed in --help).
        return run_web_server(given[1:])
    args = build_parser().parse_args(given)
    try:
        code: int = args.handler(args)
    except ApplianceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
