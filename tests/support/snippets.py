"""Python snippets run in a fresh interpreter (for process-wide settings such as glibc's)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def run_snippet(snippet: str, argument: str | int) -> list[str]:
    """The words the snippet prints, run with `argument` as its one command-line argument."""
    done = subprocess.run(
        [sys.executable, "-c", snippet, str(argument)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()
