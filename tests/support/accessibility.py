"""axe-core in the browser tests: the engine comes from the axe-playwright-python wheel (its
bundled axe.min.js is evaluated in the page; nothing is fetched). Pages are opened with
tests/support/browser.py's chromium(), never here."""

from __future__ import annotations

from typing import Any


def axe_results(page: Any, options: dict[str, Any]) -> dict[str, Any]:
    """axe's raw results for the page as it is now."""
    from axe_playwright_python import sync_playwright as axe_sync

    return dict(axe_sync.Axe().run(page, options=options).response)
