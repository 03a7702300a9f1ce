"""Lint findings for a Python submission, from ruff (pyflakes' checks, syntax errors, bugbear).

ruff reads the code from stdin and never runs it. It comes with the appliance's virtual
environment where the development tools are installed; a box without it reports that lint was
not available rather than pretending the code is clean. Other languages are not linted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# F: pyflakes (undefined and unused names, ...), E7/E9: statements and syntax, B: bugbear.
RULES = "F,E7,E9,B"
TIMEOUT_S = 20.0
MAX_FINDINGS = 50


@dataclass(frozen=True)
class Finding:
    """One lint finding: where, the rule's code, and ruff's message."""

    line: int
    column: int
    code: str
    message: str


@dataclass(frozen=True)
class LintReport:
    """The findings, or why there are none to show (`available` False)."""

    available: bool
    reason: str = ""  # "not_python", "no_linter", "linter_failed"
    findings: tuple[Finding, ...] = ()
    tool: str = ""


@cache
def ruff_binary() -> str | None:
    """The ruff executable beside this interpreter (the venv) or on PATH, if there is one."""
    beside = Path(sys.executable).parent / "ruff"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("ruff")


def _version(binary: str) -> str:
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "ruff"
    return done.stdout.strip() or "ruff"


def lint(language: str, code: str) -> LintReport:
    """ruff's findings for Python code; a report saying why for anything else."""
    if language != "python":
        return LintReport(False, "not_python")
    binary = ruff_binary()
    if binary is None:
        return LintReport(False, "no_linter")
    argv = [
        binary,
        "check",
        "--isolated",  # no configuration file of wherever it runs
        "--no-cache",
        "--ignore-noqa",  # a suppression comment in the code does not hide a finding
        "--output-format",
        "json",
        "--select",
        RULES,
        "--stdin-filename",
        "main.py",
        "-",
    ]
    try:
        done = subprocess.run(
            argv,
            input=code,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
        )
        found = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return LintReport(False, "linter_failed")
    if done.returncode not in (0, 1) or not isinstance(found, list):
        return LintReport(False, "linter_failed")
    findings = [
        Finding(
            int(item.get("location", {}).get("row", 0)),
            int(item.get("location", {}).get("column", 0)),
            str(item.get("code") or "syntax"),
            str(item.get("message", "")),
        )
        for item in found
        if isinstance(item, dict)
    ]
    findings.sort(key=lambda f: (f.line, f.column))
    return LintReport(True, findings=tuple(findings[:MAX_FINDINGS]), tool=_version(binary))
