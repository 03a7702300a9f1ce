"""Build step: vendor the candidate room's code editor (CodeMirror 5) from the npm registry.

Like `packs_build`, this is a factory step: `make setup` runs it, the running appliance never
reaches a registry and no page loads anything from a CDN. `npm pack` fetches the pinned
tarball into a temporary folder, its SHA-512 must equal the pinned integrity, and only the
files the room uses are copied to `webui/static/vendor/codemirror/` (git-ignored). Without
npm or the registry the step says so and the room keeps its plain text area.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "codemirror"
VERSION = "5.65.21"
# From `npm view codemirror@5.65.21 dist.integrity`; a tarball with another digest is refused.
INTEGRITY = (
    "sha512-"
    "6teYk0bA0nR3QP0ihGMoxuKzpl5W80FpnHpBJpgy66NK3cZv5b/d/HY8PnRvfSsCG1MTfr92u2WUl+wT0E40mQ=="
)
LICENCE = "MIT"
# Tarball member -> file under the vendor folder (the room loads exactly these).
FILES = {
    "package/lib/codemirror.js": "codemirror.js",
    "package/lib/codemirror.css": "codemirror.css",
    "package/mode/python/python.js": "mode/python.js",
    "package/mode/javascript/javascript.js": "mode/javascript.js",
    "package/mode/clike/clike.js": "mode/clike.js",
    "package/LICENSE": "LICENSE",
}
STAMP = "VERSION"
DEFAULT_INTO = Path(__file__).resolve().parent.parent / "webui" / "static" / "vendor" / "codemirror"


class VendorError(RuntimeError):
    """The editor could not be vendored (no npm, no registry, or a tarball that fails its check)."""


def integrity_of(data: bytes) -> str:
    """npm's `dist.integrity` form of a tarball: sha512- and the base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _stamp_text() -> str:
    return f"{PACKAGE}@{VERSION} {INTEGRITY}\n"


def is_current(into: Path) -> bool:
    """Whether `into` already holds this version's files (the step is then a no-op)."""
    stamp = into / STAMP
    return (
        stamp.is_file()
        and stamp.read_text(encoding="utf-8") == _stamp_text()
        and all((into / name).is_file() for name in FILES.values())
    )


def fetch_tarball(workdir: Path) -> bytes:
    """`npm pack` the pinned version into `workdir` and return the tarball's bytes."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm is not installed")
    try:
        done = subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(workdir), "--silent"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise VendorError("npm pack timed out (is the registry reachable?)") from exc
    tarballs = sorted(workdir.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no tarball"]
        raise VendorError(f"npm pack failed: {reason[0]}")
    return tarballs[0].read_bytes()


def install(data: bytes, into: Path) -> None:
    """Check the tarball against the pinned integrity and copy the needed files into `into`."""
    found = integrity_of(data)
    if found != INTEGRITY:
        raise VendorError(f"integrity mismatch for {PACKAGE}@{VERSION}: got {found}")
    staging = into.with_name(into.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, name in FILES.items():
            source = archive.extractfile(member)
            if source is None:
                raise VendorError(f"{member} is missing from the tarball")
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())
    (staging / STAMP).write_text(_stamp_text(), encoding="utf-8")
    # Swapped in whole, so a page never sees half a version.
    shutil.rmtree(into, ignore_errors=True)
    staging.rename(into)


def vendor(into: Path = DEFAULT_INTO) -> bool:
    """Vendor the editor into `into`; False (with a note) when it cannot be done here."""
    if is_current(into):
        return True
    with tempfile.TemporaryDirectory(prefix="vendor-editor-") as tmp:
        try:
            install(fetch_tarball(Path(tmp)), into)
        except VendorError as exc:
            print(
                f"code editor not vendored ({exc}): the room uses a plain text area",
                file=sys.stderr,
            )
            return False
    size = sum(p.stat().st_size for p in into.rglob("*") if p.is_file())
    print(f"vendored {PACKAGE}@{VERSION} ({LICENCE}, {size // 1024} KiB) into {into}")
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m provisioning.vendor_editor [--into DIR] [--strict]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--into", type=Path, default=DEFAULT_INTO)
    parser.add_argument("--strict", action="store_true", help="fail when it cannot be vendored")
    args = parser.parse_args(argv)
    ok = vendor(args.into)
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
