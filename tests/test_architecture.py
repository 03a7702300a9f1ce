"""Meta-tests that keep the module boundaries of ARCHITECTURE.md true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import REPO


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def test_only_db_module_imports_sqlcipher() -> None:
    users = [
        p.relative_to(REPO).as_posix()
        for package in ("appliance", "inference", "webui", "provisioning", "firmware")
        for p in _sources(package)
        if "sqlcipher3" in _imports(p)
    ]
    assert users == ["appliance/store/db.py"]


@pytest.mark.parametrize("forbidden", ["flask", "werkzeug", "openvino", "vosk", "cv2"])
def test_core_knows_nothing_of_web_or_inference_engines(forbidden: str) -> None:
    offenders = [p.name for p in _sources("appliance") if forbidden in _imports(p)]
    assert offenders == []


def test_inference_does_not_touch_the_store() -> None:
    offenders = [
        p.name
        for p in _sources("inference")
        if {"appliance", "sqlcipher3", "sqlite3"} & _imports(p)
    ]
    assert offenders == []


def _public_definitions(tree: ast.Module) -> list[ast.FunctionDef | ast.ClassDef]:
    """Module-level functions and classes, and the methods of public classes."""
    found: list[ast.FunctionDef | ast.ClassDef] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            found.append(node)
            if isinstance(node, ast.ClassDef):
                found.extend(
                    child
                    for child in node.body
                    if isinstance(child, ast.FunctionDef) and not child.name.startswith("_")
                )
    return found


# Methods of io.RawIOBase and threading.Thread keep the meaning their base class documents.
OVERRIDES = {"readable", "seekable", "tell", "seek", "readinto", "read", "close", "run"}


def test_public_functions_have_docstrings() -> None:
    missing = [
        f"{path.relative_to(REPO)}:{node.lineno} {node.name}"
        for package in ("appliance", "inference", "webui", "provisioning", "firmware")
        for path in _sources(package)
        for node in _public_definitions(ast.parse(path.read_text(encoding="utf-8")))
        if ast.get_docstring(node) is None and node.name not in OVERRIDES
    ]
    assert missing == []


def test_nothing_downloads_at_run_time() -> None:
    patterns = (
        "urlopen(",
        "urlretrieve",
        "hf_hub_download",
        "snapshot_download",
        "from_pretrained(",
        "requests.get(",
    )
    offenders = [
        f"{p.relative_to(REPO)}: {pattern}"
        for package in ("appliance", "inference", "webui", "provisioning", "firmware")
        for p in _sources(package)
        for pattern in patterns
        if pattern in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
