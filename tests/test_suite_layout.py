"""Meta-tests of the suite's own layout: test modules share helpers only through tests/support/,
and chromium is started in one place (tests/support/browser.py)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SUPPORT = TESTS / "support"
LAUNCHER = SUPPORT / "browser.py"
# What starting a browser by hand looks like; only the launcher may do it.
LAUNCH_PATTERNS = (
    "executable_path",
    "/usr/bin/chromium",
    "sync_playwright",
    "chromium.launch",
    "--headless",
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
)


def suite_modules() -> list[Path]:
    """Every tests/test_*.py file."""
    return sorted(TESTS.glob("test_*.py"))


def imported_modules(source: str) -> set[str]:
    """Dotted names of the modules a source imports (relative ones made absolute in `tests`),
    at any depth: imports inside functions count too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:  # inside tests/: `.x` is tests.x, `..x` would leave the package
                base = ".".join(filter(None, ["tests", node.module]))
            found.add(base)
            # `from tests import test_x` and `from . import test_x` import modules too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imported_test_modules(source: str) -> list[str]:
    """The test modules (tests.test_*) that a source imports."""
    return sorted(
        name
        for name in imported_modules(source)
        if name.startswith("tests.test_") and name.count(".") == 1
    )


# axe-playwright-python's module is called sync_playwright but launches nothing: it evaluates
# axe in a page the support launcher opened.
NOT_A_LAUNCH = "axe_playwright_python import sync_playwright"


def launches_by_hand(source: str) -> list[str]:
    """The launch patterns found in a source."""
    source = source.replace(NOT_A_LAUNCH, "")
    return [pattern for pattern in LAUNCH_PATTERNS if pattern in source]


def uses_playwright(source: str) -> bool:
    return any(name.split(".")[0] == "playwright" for name in imported_modules(source))


def test_no_test_module_imports_another() -> None:
    offenders = {
        path.name: imported
        for path in suite_modules()
        if (imported := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "share helpers through tests/support/, not test modules"


def test_chromium_is_launched_only_by_the_support_launcher() -> None:
    here = Path(__file__).resolve()
    by_hand = {
        path.relative_to(TESTS).as_posix(): found
        for path in sorted(TESTS.rglob("*.py"))
        if path not in (LAUNCHER, here)
        and (found := launches_by_hand(path.read_text(encoding="utf-8")))
    }
    assert by_hand == {}, "start chromium with tests/support/browser.py's chromium()"
    without_launcher = [
        path.name
        for path in suite_modules()
        if uses_playwright(source := path.read_text(encoding="utf-8"))
        and "tests.support.browser" not in imported_modules(source)
    ]
    assert without_launcher == []


def test_the_browser_modules_are_found() -> None:
    """The checks above look at real code: the browser tests do import the launcher."""
    users = [
        path.name
        for path in suite_modules()
        if "tests.support.browser" in imported_modules(path.read_text(encoding="utf-8"))
    ]
    assert "test_browser.py" in users and len(users) >= 5


def test_the_checks_catch_violations() -> None:
    """The detectors flag each way of breaking the rules (so the checks above can fail)."""
    for source in (
        "from tests.test_serve import serving",
        "from .test_serve import serving",
        "import tests.test_serve",
        "from tests import test_serve",
        "from . import test_serve",
        "def f():\n    from tests.test_serve import serving\n",
    ):
        assert imported_test_modules(source) == ["tests.test_serve"], source
    for source in (
        "from tests.support.serving import serving",
        "from tests.conftest import REPO",
        "from .conftest import REPO",
        "import tests.support.browser",
    ):
        assert imported_test_modules(source) == [], source
    assert launches_by_hand('p.chromium.launch(executable_path="/usr/bin/chromium")')
    assert launches_by_hand("from playwright.sync_api import sync_playwright")
    assert not launches_by_hand("from axe_playwright_python import sync_playwright as axe")
    assert not launches_by_hand("from tests.support.browser import chromium")
    assert uses_playwright("from playwright.sync_api import expect")
    assert not uses_playwright("from tests.support.browser import chromium")
