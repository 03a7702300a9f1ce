"""`python -m appliance update init|stage|apply|status|rollback|recover`: signed A/B updates.

    update init --trusted-keys FILE [--root ROOT] [--source DIR] [--replace-trusted-keys]
    update stage BUNDLE [--root ROOT]
    update apply [--root ROOT]
    update status [--root ROOT]
    update rollback [--restore-backup] [--root ROOT]
    update recover [--root ROOT]

Every command but `status` needs the operator passphrase (the device key signs the
anti-rollback counter; backups and restores open the key set). `apply`, `rollback` and
`recover` run with the appliance stopped. Exit codes: 53 a bundle refused, 54 an update failed
and was undone, 55 not possible now, 56 an undo that did not complete (docs/updates.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from appliance.cli.common import add_config_arguments, config_file, load

PINNED_ENV = "APPLIANCE_UPDATE_PINNED"


def _pin_to_slot() -> None:
    """Run on from the slot's real folder, not through `current`: an update switches that link
    while this process still imports modules lazily."""
    import appliance
    from appliance.platform.executable import COMPILED
    from firmware.errors import UpdateStateError

    if COMPILED:
        # Slots hold source trees run by the interpreter; a compiled build is replaced whole.
        raise UpdateStateError(
            "this is the compiled build: signed A/B updates apply to the Python install; "
            "install a new compiled build instead (docs/packaging.md)"
        )
    here = Path(appliance.__file__).parent.parent  # as imported: maybe through `current`
    real = here.resolve()
    started_as_module = Path(sys.argv[0]).resolve() == real / "appliance" / "__main__.py"
    if here == real or os.environ.get(PINNED_ENV) or not started_as_module:
        return  # already on the real path, pinned before, or not `python -m appliance`
    env = {**os.environ, "PYTHONPATH": str(real), PINNED_ENV: "1"}
    argv = [sys.executable, "-P", "-m", "appliance", *sys.argv[1:]]
    os.execve(sys.executable, argv, env)  # noqa: S606 - this same command, from the real path


def _install(args: argparse.Namespace) -> Any:
    from firmware.slots import Install
    from firmware.updater import default_root

    return Install(Path(args.root) if args.root else default_root())


def _box(args: argparse.Namespace) -> Any:
    from appliance.security.passphrase import obtain_passphrase
    from appliance.security.sealing import PassphraseSealer
    from appliance.store.keyring import unlock
    from firmware.updater import Box

    config = load(args)
    passphrase = obtain_passphrase(file=args.passphrase_file or config.keys.passphrase_file)
    keyset = unlock(config.paths, PassphraseSealer(passphrase, log2_n=config.keys.scrypt_log2_n))
    return Box(_install(args), config, config_file(args).resolve(), keyset, passphrase)


def _say(journal: Any) -> None:
    outcome = journal.outcome or {}
    print(
        json.dumps(
            {"state": journal.state, "version": journal.version, "outcome": outcome}, indent=2
        )
    )


def cmd_update_init(args: argparse.Namespace) -> int:
    """Make the install root: slot a from the running code, `current`, the trusted vendor keys
    and the signed anti-rollback counter (or, with --replace-trusted-keys, new trusted keys)."""
    from firmware.updater import init, running_source

    _pin_to_slot()
    source = Path(args.source) if args.source else running_source()
    print(
        init(
            _box(args),
            Path(args.trusted_keys),
            source=source,
            replace_trust=args.replace_trusted_keys,
        )
    )
    return 0


def cmd_update_stage(args: argparse.Namespace) -> int:
    """Verify a signed bundle and unpack it into the inactive slot (exit 53 when refused)."""
    from firmware.updater import stage

    _pin_to_slot()
    journal = stage(_box(args), Path(args.bundle).absolute())
    print(f"staged {journal.version} (counter {journal.counter}) in slot {journal.slot}")
    return 0


def cmd_update_apply(args: argparse.Namespace) -> int:
    """Back up, migrate with the new code, switch, check health; undo it all on failure."""
    from firmware.updater import apply

    _pin_to_slot()
    _say(apply(_box(args)))
    return 0


def cmd_update_status(args: argparse.Namespace) -> int:
    """Slots, versions, current, the journal and the counter, as JSON (no passphrase)."""
    from appliance.platform.config import load_config
    from firmware.updater import status

    path = config_file(args)
    config = load_config(path) if path.exists() else None
    print(json.dumps(status(_install(args), config), indent=2))
    return 0


def cmd_update_rollback(args: argparse.Namespace) -> int:
    """Go back to the version the last update replaced (with --restore-backup when the update
    changed the schema: the backup from before it is restored, today's data kept in a new one)."""
    from firmware.updater import rollback

    _pin_to_slot()
    _say(rollback(_box(args), restore_backup=args.restore_backup))
    return 0


def cmd_update_recover(args: argparse.Namespace) -> int:
    """Finish an interrupted update that passed its health check, undo any other."""
    from firmware.updater import recover

    _pin_to_slot()
    _say(recover(_box(args)))
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `update init|stage|apply|status|rollback|recover` to the command line."""
    update: argparse.ArgumentParser = subparsers.add_parser(
        "update", help="signed updates with A/B slots and rollback"
    )
    commands = update.add_subparsers(dest="update_command", required=True)

    def add(name: str, handler: Any) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = commands.add_parser(
            name, help=(handler.__doc__ or "").strip().split("\n")[0]
        )
        command.set_defaults(handler=handler)
        add_config_arguments(command)
        command.add_argument(
            "--root", help="the install root (default: $APPLIANCE_INSTALL_ROOT, the running slot's)"
        )
        return command

    init = add("init", cmd_update_init)
    init.add_argument("--trusted-keys", required=True, help="the vendor's trusted-keys file")
    init.add_argument("--source", help="the folder holding the packages (default: running code)")
    init.add_argument("--replace-trusted-keys", action="store_true")
    stage = add("stage", cmd_update_stage)
    stage.add_argument("bundle")
    add("apply", cmd_update_apply)
    add("status", cmd_update_status)
    rollback = add("rollback", cmd_update_rollback)
    rollback.add_argument(
        "--restore-backup",
        action="store_true",
        help="restore the backup taken before the update (needed when it changed the schema)",
    )
    add("recover", cmd_update_recover)
    return update
