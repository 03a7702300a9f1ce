"""What every command of the operator's command line shares: where the config is, loading it,
logging, and the config options of store commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from appliance.platform.config import ApplianceConfig, config_path_for, load_config
from appliance.platform.errors import ApplianceError
from appliance.security.outbound import guard_process

DEFAULT_DATA_DIR = Path("var/appliance")
CONFIG_ENV = "APPLIANCE_CONFIG"


def setup_logging(level: str) -> None:
    """Log to stderr at `level` (never candidate text: see the logging rules in ARCHITECTURE.md)."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def config_file(args: argparse.Namespace) -> Path:
    """The config file a command reads: --config, --data-dir, $APPLIANCE_CONFIG or the default."""
    if getattr(args, "config", None):
        return Path(args.config)
    if getattr(args, "data_dir", None):
        return config_path_for(Path(args.data_dir))
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return config_path_for(DEFAULT_DATA_DIR)


def load(args: argparse.Namespace) -> ApplianceConfig:
    """The command's config, with logging set up from it; ApplianceError if not provisioned."""
    path = config_file(args)
    if not path.exists():
        raise ApplianceError(
            f"no configuration at {path}: provision first "
            "(python -m appliance provision --data-dir DIR)"
        )
    config = load_config(path)
    setup_logging(config.logging.level)
    # Before any command's work (and any engine import): nothing may leave the box.
    guard_process(config)
    return config


def add_config_arguments(command: argparse.ArgumentParser) -> None:
    """The options every store command takes: --config or --data-dir, and --passphrase-file."""
    where = command.add_mutually_exclusive_group()
    where.add_argument("--config", help="config file (default: DATA_DIR/appliance.toml)")
    where.add_argument("--data-dir", help="data directory holding appliance.toml")
    command.add_argument(
        "--passphrase-file", type=Path, help="file holding the operator passphrase"
    )
