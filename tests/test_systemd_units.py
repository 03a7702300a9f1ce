"""The systemd units in provisioning/systemd/ (issue 19, item 4): each runs a real command of
`python -m appliance` under the same hardening, and systemd's own tools accept them."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli.main import build_parser
from appliance.security.passphrase import CREDENTIAL_NAME

from .conftest import REPO

UNITS = REPO / "provisioning" / "systemd"
DATA_DIR = "/var/lib/appliance"
PASSPHRASE_FILE = "/etc/appliance/passphrase"
INSTALLED_PYTHON = "/opt/appliance/.venv/bin/python"
HARDENING = {
    "User": "appliance",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ReadWritePaths": DATA_DIR,
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "UMask": "0077",
    "LoadCredential": f"{CREDENTIAL_NAME}:{PASSPHRASE_FILE}",
    "Restart": "on-failure",
}
# What each unit may add to @system-service, and the namespaces it may make: serve runs the
# coding sandbox, whose unprivileged mode makes a user namespace per run and mounts in it
# (docs/coding-sandbox.md); the watchdog makes none.
SYSTEM_CALLS = {
    "appliance.service": "@system-service mount mount_setattr",
    "appliance-watchdog.service": "@system-service",
}
NAMESPACES = {"appliance.service": "user mnt net pid ipc uts", "appliance-watchdog.service": "yes"}
# The most the exposure score of `systemd-analyze security` may reach (0 safe .. 10 unsafe).
# serve's namespaces and mount calls for the coding sandbox count 0.9 of its 2.3.
MAX_EXPOSURE = {"appliance.service": 2.5, "appliance-watchdog.service": 1.0}


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def _units() -> list[Path]:
    return sorted(UNITS.glob("*.service"))


def test_the_units_are_the_appliance_and_its_watchdog() -> None:
    assert [path.name for path in _units()] == ["appliance-watchdog.service", "appliance.service"]


@pytest.mark.parametrize("path", _units(), ids=lambda path: path.name)
def test_every_unit_is_hardened(path: Path) -> None:
    service = _unit(path)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, key
    assert service["SystemCallFilter"] == SYSTEM_CALLS[path.name]
    assert service["RestrictNamespaces"] == NAMESPACES[path.name]
    families = set(service["RestrictAddressFamilies"].split())
    assert families and families <= {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert float(service["RestartSec"]) > 0
    unit = _unit(path)["Unit"]
    assert int(unit["StartLimitBurst"]) > 0 and unit["StartLimitIntervalSec"]
    # A config, passphrase or key problem is not retried in a loop.
    assert {"2", "3", "4"} <= set(service["RestartPreventExitStatus"].split())


@pytest.mark.parametrize("path", _units(), ids=lambda path: path.name)
def test_exec_start_names_a_real_command(path: Path) -> None:
    argv = shlex.split(_unit(path)["Service"]["ExecStart"])
    assert argv[:3] == [INSTALLED_PYTHON, "-m", "appliance"]
    args = build_parser().parse_args(argv[3:])
    assert args.data_dir == DATA_DIR and args.passphrase_file is None
    assert (
        args.command
        == {"appliance.service": "serve", "appliance-watchdog.service": "watchdog"}[path.name]
    )


def test_the_watchdog_pings_systemd_well_within_its_timeout() -> None:
    unit = _unit(UNITS / "appliance-watchdog.service")
    service = unit["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    args = build_parser().parse_args(shlex.split(service["ExecStart"])[3:])
    assert args.once is False and 3 * args.interval <= float(service["WatchdogSec"])
    # It stops with the appliance, so that `migrate` can take the data directory.
    assert unit["Unit"]["PartOf"] == "appliance.service"
    assert unit["Install"]["WantedBy"] == "appliance.service"
    assert service["RestrictAddressFamilies"] == "AF_UNIX" and service["PrivateNetwork"] == "yes"


def test_the_serve_unit_says_what_the_coding_sandbox_needs() -> None:
    text = (UNITS / "appliance.service").read_text(encoding="utf-8")
    assert "docs/coding-sandbox.md" in text and "user namespace" in text
    sandbox = (REPO / "docs" / "coding-sandbox.md").read_text(encoding="utf-8")
    assert "RestrictNamespaces=user mnt net pid ipc uts" in sandbox
    assert "ProtectProc=invisible" in sandbox
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "## Install with systemd" in operations


def _python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _local_copies(folder: Path) -> list[Path]:
    """The units rewritten for this machine: its python, a temporary data directory and
    passphrase file (systemd-analyze checks that the executable exists)."""
    data_dir, passphrase = folder / "data", folder / "passphrase"
    data_dir.mkdir(mode=0o700)
    passphrase.write_text("not a real passphrase\n", encoding="utf-8")
    passphrase.chmod(0o600)
    copies = []
    for path in _units():
        text = path.read_text(encoding="utf-8")
        text = text.replace(INSTALLED_PYTHON, _python()).replace(DATA_DIR, str(data_dir))
        text = text.replace(PASSPHRASE_FILE, str(passphrase))
        copy = folder / path.name
        copy.write_text(text, encoding="utf-8")
        copies.append(copy)
    return copies


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)


def _check_analyze_works(folder: Path) -> None:
    """Skip (rather than fail) where systemd-analyze cannot work at all on this machine."""
    control = folder / "control.service"
    control.write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n", encoding="utf-8")
    result = _analyze("verify", "--man=no", str(control))
    control.unlink()
    if result.returncode != 0:
        pytest.skip(f"systemd-analyze verify does not run here: {result.stderr.strip()[:200]}")


@pytest.mark.slow
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    _check_analyze_works(tmp_path)
    copies = _local_copies(tmp_path)
    result = _analyze("verify", "--man=no", *(str(copy) for copy in copies))
    # Unknown keys and bad values are warnings with exit 0: no line may name our files.
    about_ours = [
        line for line in (result.stdout + result.stderr).splitlines() if str(tmp_path) in line
    ]
    assert result.returncode == 0 and about_ours == [], result.stdout + result.stderr


@pytest.mark.slow
def test_systemd_analyze_security_rates_the_units_ok(tmp_path: Path) -> None:
    _check_analyze_works(tmp_path)
    for copy in _local_copies(tmp_path):
        result = _analyze("security", "--offline=yes", str(copy))
        if result.returncode != 0 and "offline" in result.stderr:
            pytest.skip("this systemd-analyze has no --offline")
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
        assert match is not None, result.stdout + result.stderr
        assert float(match[1]) <= MAX_EXPOSURE[copy.name], result.stdout


def test_the_passphrase_comes_from_the_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appliance.cli.serve import PASSPHRASE_VARIABLES
    from appliance.platform.errors import PassphraseError
    from appliance.security.passphrase import CREDENTIALS_ENV, obtain_passphrase

    for name in ("APPLIANCE_PASSPHRASE", "APPLIANCE_PASSPHRASE_FILE"):
        monkeypatch.delenv(name, raising=False)
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o500)
    monkeypatch.setenv(CREDENTIALS_ENV, str(credentials))
    with pytest.raises(PassphraseError):  # no credential of that name: no passphrase
        obtain_passphrase()
    credentials.chmod(0o700)
    (credentials / CREDENTIAL_NAME).write_text("from the credential\n", encoding="utf-8")
    (credentials / CREDENTIAL_NAME).chmod(0o400)  # as systemd makes it
    assert obtain_passphrase() == "from the credential"
    # A file named on the command line or in the environment still comes first.
    named = tmp_path / "named"
    named.write_text("from the file\n", encoding="utf-8")
    named.chmod(0o600)
    assert obtain_passphrase(file=named) == "from the file"
    # serve's children get keys through a pipe, never the way to the credential.
    assert CREDENTIALS_ENV in PASSPHRASE_VARIABLES
