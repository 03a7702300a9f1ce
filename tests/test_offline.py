"""Nothing phones home: loading the vision engines writes nothing to $HOME and imports no
telemetry package (OpenVINO's would write a client id under ~/intel and send usage events)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PROBE = """
import sys
import inference.vision.openvino_backend
import inference.vision.affect
import openvino as ov
ov.Core().available_devices
assert sys.modules["openvino_telemetry"] is None, sys.modules["openvino_telemetry"]
import os
print(os.environ["HF_HUB_OFFLINE"], os.environ["HF_HUB_DISABLE_TELEMETRY"])
"""


# OpenVINO's telemetry stays silent on its own where one of these says "this is a CI job";
# both probes run without them so that the box's own switch is what is tested.
CI_MARKERS = ("CI", "TF_BUILD", "JENKINS_URL")


def _run(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in CI_MARKERS}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_loading_the_vision_engines_writes_nothing_home_and_imports_no_telemetry(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = _run(PROBE, home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []


def test_the_check_is_not_blind(tmp_path: Path) -> None:
    # Importing OpenVINO by itself, past `inference`, does write its telemetry client id.
    home = tmp_path / "home"
    home.mkdir()
    done = _run("import openvino as ov\nov.Core()", home)
    assert done.returncode == 0, done.stderr
    assert any(p.name.startswith("openvino_ga") for p in home.rglob("*"))
