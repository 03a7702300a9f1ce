"""`python -m appliance import FILE --as USERNAME [--dry-run] [--report OUT.json]`.

Wired into `appliance/cli/main.py` with `add_import_arguments(add("import", cmd_import))`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from appliance.cli.common import load
from appliance.platform.errors import ApplianceError
from appliance.security.permissions import Action, PermissionDeniedError, allowed


def add_import_arguments(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of the `import` command (besides --config, --data-dir, --passphrase-file)."""
    command.add_argument("file", type=Path, help="import-v1 JSON or CSV file")
    command.add_argument(
        "--as",
        dest="as_user",
        required=True,
        metavar="USERNAME",
        help="the account the import is made as (needs the data.import permission)",
    )
    command.add_argument(
        "--dry-run", action="store_true", help="only check the file and show what would happen"
    )
    command.add_argument(
        "--report", type=Path, help="also write the verification report (JSON) to this file"
    )
    return command


def cmd_import(args: argparse.Namespace) -> int:
    """Import requisitions and candidates from another HR system (dry run first)."""
    from appliance.accounts.auth import principal_of
    from appliance.imports.parsing import ImportSource
    from appliance.imports.planning import plan_import
    from appliance.imports.problems import ImportFailedError, ImportRejectedError
    from appliance.imports.report import plan_text, summary_text
    from appliance.imports.service import run_import
    from appliance.platform.locks import shared_lock
    from appliance.store.runtime import obtain_keyset, open_store

    path = Path(args.file)
    if not path.is_file():
        raise ApplianceError(f"no file {path}")
    source = ImportSource.from_path(path)
    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=getattr(args, "passphrase_file", None))
    with shared_lock(config.paths.lock):
        store = open_store(config, keyset)
        try:
            user = store.users.by_username(args.as_user)
            if user is None or not user.active:
                raise ApplianceError(f"no active account {args.as_user!r}")
            principal = principal_of(user)
            if allowed(principal, Action.IMPORT_DATA) is None:
                raise PermissionDeniedError(
                    f"the role {principal.role} may not {Action.IMPORT_DATA.value}"
                )
            plan = plan_import(store, principal, source)
            print(plan_text(plan))
            if not plan.ok:
                print(f"nothing was imported: fix the {len(plan.problems)} problem(s) first")
                return ImportRejectedError.exit_code
            if args.dry_run:
                print("dry run: nothing was imported")
                return 0
            try:
                report = run_import(store, principal, plan)
            except ImportFailedError as exc:
                if exc.report is not None:
                    print(summary_text(exc.report))
                    _write_report(args.report, exc.report)
                for problem in exc.problems:
                    print(f"  problem {problem}")
                raise
            print(report.summary())
            _write_report(args.report, report.data)
        finally:
            store.close()
    return 0


def _write_report(target: Path | None, report: dict[str, object]) -> None:
    if target is None:
        return
    import json

    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, target)
    print(f"report written to {target}", file=sys.stderr)
