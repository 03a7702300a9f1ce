"""The one way the tests start a browser: Debian's chromium (never a downloaded one) through
Playwright, headless, with the flags every browser test shares plus those a test asks for.

A browser test module calls `require_chromium(module=True)` before it imports playwright, so
that it is skipped cleanly where chromium or playwright is missing; `chromium()` itself skips
the test that asks for it in that case too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
# Every browser test's flags: no sandbox (containers), no GPU, nothing that phones home.
COMMON_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
NEW_HEADLESS = "--headless=new"


def require_chromium(*, module: bool = False) -> None:
    """Skip unless Debian's chromium and the playwright package are both here.

    With `module=True` (called while a test module is imported) the whole module is skipped.
    """
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM}", allow_module_level=module
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        pytest.skip("browser tests need the playwright Python package", allow_module_level=module)


def fake_media_flags(
    *, audio: Path | None = None, video: Path | None = None, autoplay: bool = False
) -> list[str]:
    """Flags for a fake camera and microphone (fed from these files where given), with the
    permission prompt answered yes and, with `autoplay`, media allowed to play unprompted."""
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    if video is not None:
        flags.append(f"--use-file-for-fake-video-capture={video}")
    if audio is not None:
        flags.append(f"--use-file-for-fake-audio-capture={audio}")
    if autoplay:
        flags.append("--autoplay-policy=no-user-gesture-required")
    return flags


def chromium_flags(*extra: str, new_headless: bool = True) -> list[str]:
    """The command-line flags `chromium()` launches with."""
    return [*([NEW_HEADLESS] if new_headless else []), *COMMON_FLAGS, *extra]


@contextmanager
def chromium(*extra_flags: str, new_headless: bool = True) -> Iterator[Browser]:
    """Debian's chromium, headless, with COMMON_FLAGS and `extra_flags`; closed afterwards.

    `new_headless=False` leaves out `--headless=new` (Playwright's own headless mode).
    Skips the test (or the fixture's users) where chromium or playwright is missing.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=chromium_flags(*extra_flags, new_headless=new_headless),
        )
        try:
            yield browser
        finally:
            browser.close()
