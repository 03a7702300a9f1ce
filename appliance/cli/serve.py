"""`serve`: the web UI under gunicorn and the worker, as two child processes stopped together."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from types import FrameType

from appliance.platform.config import ApplianceConfig
from appliance.platform.locks import shared_lock
from appliance.security.passphrase import PASSPHRASE_ENV, PASSPHRASE_FILE_ENV
from appliance.store.keyring import Keyset
from appliance.store.runtime import KEY_FD_ENV, open_store, send_keyset

logger = logging.getLogger(__name__)

STOP_GRACE_S = 20.0
PASSPHRASE_VARIABLES = frozenset(
    {PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, "APPLIANCE_NEW_PASSPHRASE", "APPLIANCE_ADMIN_PASSWORD"}
)


def _spawn(argv: list[str], keyset: Keyset, config_path: Path) -> subprocess.Popen[bytes]:
    key_fd = send_keyset(keyset)
    # The children get the keys through the pipe; the passphrase stays with this process.
    env = {key: value for key, value in os.environ.items() if key not in PASSPHRASE_VARIABLES}
    env.update({KEY_FD_ENV: str(key_fd), "APPLIANCE_CONFIG": str(config_path)})
    try:
        return subprocess.Popen(argv, env=env, pass_fds=(key_fd,))
    finally:
        os.close(key_fd)


def gunicorn_argv(config: ApplianceConfig) -> list[str]:
    """The command line that serves the web UI."""
    conf = resources.files("webui") / "gunicorn.conf.py"
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(conf),
        "--bind",
        f"{config.web.host}:{config.web.port}",
        "--workers",
        str(config.web.workers),
        "--threads",
        str(config.web.threads),
        "--timeout",
        str(config.web.timeout_s),
        "webui.wsgi:app",
    ]


def worker_argv(config: ApplianceConfig, config_path: Path, lane: str) -> list[str]:
    """The command line of a worker process in its lane (`batch` or `interactive`)."""
    argv = [sys.executable, "-m", "appliance", "worker", "--config", str(config_path)]
    if lane == "batch" and config.worker.batch_niceness:
        argv += ["--nice", str(config.worker.batch_niceness)]
    if not config.worker.interactive_lane:
        return argv
    kinds = ",".join(config.worker.interactive_kinds)
    if lane == "interactive":
        return [*argv, "--only-kinds", kinds]
    # The batch lane leaves waiting-for-a-person jobs and the chores to the interactive one.
    return [*argv, "--except-kinds", kinds, "--no-chores"] if kinds else [*argv, "--no-chores"]


def serve(config: ApplianceConfig, keyset: Keyset, config_path: Path) -> int:
    """Run both processes until Ctrl-C/SIGTERM or until one of them exits; stop both."""
    # Fail before starting anything when the store cannot be used (wrong key, old schema).
    open_store(config, keyset).close()
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    with shared_lock(config.paths.lock):
        children = {
            "web": _spawn(gunicorn_argv(config), keyset, config_path),
            "worker": _spawn(worker_argv(config, config_path, "batch"), keyset, config_path),
        }
        if config.worker.interactive_lane:
            children["interactive"] = _spawn(
                worker_argv(config, config_path, "interactive"), keyset, config_path
            )
        print(
            f"web UI on http://{config.web.host}:{config.web.port}/ "
            f"(web pid {children['web'].pid}, worker pid {children['worker'].pid}); "
            "Ctrl-C stops both",
            flush=True,
        )
        exit_code = 0
        try:
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        logger.error("%s process exited with %s; stopping", name, child.returncode)
                        exit_code = child.returncode or 1
                        stopping = True
                time.sleep(0.2)
        finally:
            _stop_all(list(children.values()))
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    print("stopped", flush=True)
    return exit_code


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
