"""Every error of the core has its own exit code, and the README's table says which."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator

import appliance
import firmware
import provisioning
import webui
from appliance.platform.errors import ApplianceError

from .conftest import REPO


def _subclasses(cls: type[ApplianceError]) -> Iterator[type[ApplianceError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _errors_with_own_codes() -> dict[int, list[str]]:
    # Every package that may define an error: the set must not depend on what ran before.
    for package in (appliance, webui, provisioning, firmware):
        prefix = f"{package.__name__}."
        for module in pkgutil.walk_packages(package.__path__, prefix):
            if not module.name.endswith(("__main__", ".wsgi", ".gunicorn.conf")):
                importlib.import_module(module.name)
    codes: dict[int, list[str]] = {}
    for cls in (ApplianceError, *_subclasses(ApplianceError)):
        if "exit_code" in vars(cls):
            codes.setdefault(cls.exit_code, []).append(cls.__name__)
    return codes


def _readme_table() -> dict[int, str]:
    rows = re.findall(
        r"^\| (\d+) \| `(\w+)` \| [^|]+ \|$",
        (REPO / "README.md").read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    return {int(code): name for code, name in rows}


def test_every_exit_code_means_one_error() -> None:
    shared = {code: names for code, names in _errors_with_own_codes().items() if len(names) > 1}
    assert shared == {}


def test_readme_lists_every_exit_code() -> None:
    in_code = {code: names[0] for code, names in _errors_with_own_codes().items()}
    assert _readme_table() == in_code
