"""Meta-tests that keep the module boundaries of ARCHITECTURE.md true."""

from __future__ import annotations

import ast
import re
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


@pytest.mark.parametrize(
    "forbidden", ["flask", "werkzeug", "openvino", "vosk", "cv2", "faster_whisper", "ctranslate2"]
)
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


def test_web_layer_does_not_run_inference() -> None:
    offenders = [p.name for p in _sources("webui") if "inference" in _imports(p)]
    assert offenders == []


def test_web_layer_leaves_permission_scopes_to_the_core() -> None:
    """Who may see or change what is the core's rule: no page works out a scope by itself."""
    offenders = []
    for path in _sources("webui"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = (isinstance(node, ast.Name) and node.id == "Scope") or (
                isinstance(node, ast.Attribute) and node.attr == "scope"
            )
            imported = isinstance(node, ast.ImportFrom) and any(
                alias.name == "Scope" for alias in node.names
            )
            if named or imported:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def test_json_errors_have_one_shape_from_one_helper() -> None:
    """Every JSON error of the web layer is built by webui/api/errors.json_error."""
    offenders = []
    for path in _sources("webui"):
        if path == REPO / "webui" / "api" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # The envelope {"error": {...}}; a resource's own "error" field is something else.
            if (
                isinstance(node, ast.Dict)
                and len(node.keys) == 1
                and isinstance(node.keys[0], ast.Constant)
                and node.keys[0].value == "error"
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


# --- the core's import graph ---------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _runtime_imports(path: Path, known: set[str]) -> set[str]:
    """The core modules `path` imports at run time (imports under TYPE_CHECKING do not count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in known}


def _core_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in _sources("appliance")}
    known = set(paths)
    return {name: _runtime_imports(path, known) - {name} for name, path in paths.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_loop() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_core_modules() -> None:
    assert _cycles(_core_graph()) == []


def _documented_map() -> dict[str, set[str]]:
    """The core's folder table of ARCHITECTURE.md: folder -> the folders it may import."""
    rows = re.findall(
        r"^\| `appliance/(\w+)/` \|[^|]*\| ([^|]*) \|$",
        (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    return {
        folder: {name.strip() for name in allowed.split(",") if name.strip() not in ("", "-")}
        for folder, allowed in rows
    }


def _folder_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def test_architecture_map_lists_every_folder_of_the_core() -> None:
    documented = _documented_map()
    folders = {p.parent.name for p in (REPO / "appliance").glob("*/__init__.py")}
    assert set(documented) == folders
    assert sorted(p.name for p in (REPO / "appliance").glob("*.py")) == [
        "__init__.py",
        "__main__.py",
    ]


def test_core_folders_import_only_what_the_map_allows() -> None:
    documented = _documented_map()
    unlisted = sorted(
        f"{module} imports {target}"
        for module, targets in _core_graph().items()
        for target in targets
        if (source := _folder_of(module)) is not None
        and (folder := _folder_of(target)) is not None
        and folder != source
        and folder not in documented.get(source, set())
    )
    assert unlisted == []


def test_architecture_map_has_no_cycles() -> None:
    assert _cycles(_documented_map()) == []


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
