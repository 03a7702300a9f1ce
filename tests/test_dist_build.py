"""The compiled build (`make dist`: Nuitka standalone) does what the Python install does:
provisions a demo box, analyses the demo recording with the real model packs in its own worker,
and serves the web UI (health, sign-in, a translated page) from its own gunicorn child.

The build takes a long time, so `make test` does not make it: these tests run where
`dist/appliance.dist/interview-appliance` (or APPLIANCE_DIST_BINARY) exists, as `make dist` does
right after building, and skip elsewhere. The command-line helper's arguments are tested always.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from appliance.cli.demo import DEMO_PASSWORD
from appliance.platform.executable import WEB_SERVER_COMMAND, appliance_command
from provisioning.build_dist import nuitka_argv
from tests.conftest import MODEL_PACKS, REPO
from tests.support.serving import free_port, serve_command
from tests.support.speech_packs import LIBRIVOX

BINARY = Path(
    os.environ.get(
        "APPLIANCE_DIST_BINARY", REPO / "dist" / "appliance.dist" / "interview-appliance"
    )
)
needs_binary = pytest.mark.skipif(
    not BINARY.is_file(), reason=f"no compiled build at {BINARY} (make dist)"
)


def test_children_start_the_same_program() -> None:
    """Under the interpreter the worker and web children are `python -m appliance ...`."""
    command = appliance_command()
    assert command[1:] == ["-m", "appliance"]
    shown = subprocess.run(
        [*command, WEB_SERVER_COMMAND, "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0 and "gunicorn" in (shown.stdout + shown.stderr)


def test_build_command_compiles_every_own_package_with_its_data(tmp_path: Path) -> None:
    """Plugins are chosen by config: the build must not rely on seeing their imports."""
    argv = nuitka_argv(tmp_path, 2)
    for package in ("appliance", "inference", "webui", "firmware", "provisioning"):
        assert f"--include-package={package}" in argv
        assert f"--include-package-data={package}" in argv
    assert "--mode=standalone" in argv and argv[-1] == str(REPO / "appliance")
    assert any(a.startswith("--include-data-files=") and "gunicorn.conf.py" in a for a in argv)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A demo box provisioned by the compiled binary, run from outside the source tree."""
    if not BINARY.is_file():
        pytest.skip(f"no compiled build at {BINARY} (make dist)")
    if not (MODEL_PACKS / "whisper-base").is_dir():  # the demo recording is transcribed
        pytest.skip("no speech model pack (make packs)")
    root = tmp_path_factory.mktemp("dist-box")
    passphrase = root / "passphrase"
    passphrase.write_text("a compiled appliance's demo passphrase\n")
    passphrase.chmod(0o600)
    # Nothing of the source tree or the venv: the binary must carry what it needs.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "APPLIANCE_PASSPHRASE_FILE": str(passphrase),
        "APPLIANCE_INFERENCE__PACK_DIRS": json.dumps([str(MODEL_PACKS)]),
    }
    data = root / "data"
    done = _run([str(BINARY), "provision", "--data-dir", str(data), "--demo"], env, root)
    assert "provisioned" in done.stdout
    yield data, env
    shutil.rmtree(root, ignore_errors=True)


def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> Any:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv[1]} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


@needs_binary
def test_compiled_worker_analyses_the_demo_recording(box: tuple[Path, dict[str, str]]) -> None:
    data, env = box
    _run([str(BINARY), "worker", "--data-dir", str(data), "--exit-when-idle"], env, data.parent)
    status = json.loads(_run([str(BINARY), "status", "--data-dir", str(data)], env, data).stdout)
    jobs = status["jobs"]
    assert jobs and all(job["state"] == "succeeded" for job in jobs), jobs
    assert _run([str(BINARY), "check", "--data-dir", str(data)], env, data).stdout.strip() == "ok"


@needs_binary
def test_compiled_serve_answers_health_and_pages(box: tuple[Path, dict[str, str]]) -> None:
    data, env = box
    port = free_port()
    with serve_command(
        [str(BINARY), "serve", "--data-dir", str(data)],
        {
            **env,
            "APPLIANCE_WEB__PORT": str(port),
            "APPLIANCE_WEB__HOST": "127.0.0.1",
            # Plain HTTP on loopback: the session cookie must travel without TLS here.
            "APPLIANCE_WEB__COOKIE_SECURE": "false",
        },
        data.parent,
        data.parent / "serve.log",
        port=port,
        start_s=120,
    ):
        base = f"http://127.0.0.1:{port}"
        web = requests.Session()
        web.trust_env = False  # loopback only, never a proxy
        form = web.get(f"{base}/login", headers={"Accept-Language": "zh-CN"}, timeout=10)
        assert form.status_code == 200 and "登录" in form.text  # compiled translations present
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text[:500]
        signed_in = web.post(
            f"{base}/login",
            data={"username": "hr.alice", "password": DEMO_PASSWORD, "csrf_token": token[1]},
            allow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code in (302, 303), signed_in.text[:300]
        dashboard = web.get(f"{base}/", allow_redirects=False, timeout=30)
        assert dashboard.status_code == 200 and "<html" in dashboard.text  # templates present
        assert web.get(f"{base}/static/appliance.css", timeout=10).status_code == 200


def test_updates_are_refused_in_the_compiled_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """A/B slots hold source trees: the compiled build says so instead of failing oddly."""
    from appliance.cli import update
    from appliance.platform import executable
    from firmware.errors import UpdateStateError

    monkeypatch.setattr(executable, "COMPILED", True)
    with pytest.raises(UpdateStateError, match="compiled build"):
        update._pin_to_slot()


@needs_binary
def test_compiled_update_is_refused_with_its_exit_code(box: tuple[Path, dict[str, str]]) -> None:
    data, env = box
    done = subprocess.run(
        [str(BINARY), "update", "stage", "bundle.tar", "--data-dir", str(data)],
        cwd=data.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 55 and "compiled build" in done.stderr, done.stderr


def test_usage_names_the_command_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Help and usage lines name `python -m appliance`, or the compiled binary's own name."""
    from appliance.cli.main import build_parser
    from appliance.platform import executable

    assert build_parser().format_usage().startswith("usage: python -m appliance ")
    monkeypatch.setattr(executable, "COMPILED", True)
    monkeypatch.setattr(executable, "_compiled_binary", lambda: "/opt/box/interview-appliance")
    assert executable.command_name() == "interview-appliance"
    assert build_parser().format_usage().startswith("usage: interview-appliance ")


@needs_binary
def test_compiled_transcribe_measures_against_a_reference(
    box: tuple[Path, dict[str, str]],
) -> None:
    """The error rate's normalisers (their data files included) work in the compiled build."""
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
    transcription = LIBRIVOX / "transcription"
    if not clip.is_file() or not transcription.is_file():
        pytest.skip("pocketsphinx-testdata is not installed")
    data, env = box
    [said] = [
        line.split("</s>")[0].replace("<s>", "").strip()
        for line in transcription.read_text(encoding="utf-8").splitlines()
        if clip.stem in line
    ]
    reference = data.parent / "said.txt"
    reference.write_text(said, encoding="utf-8")
    argv = [str(BINARY), "transcribe", str(clip), "--data-dir", str(data)]
    done = _run([*argv, "--reference", str(reference), "--json"], env, data.parent)
    rate = json.loads(done.stdout)["error_rate"]
    assert rate["kind"] == "wer" and rate["value"] <= 0.1
