"""`serve`: the web UI under gunicorn and the worker lanes, as child processes it supervises
(one that dies is started again while the others go on) and stops together."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import FrameType

from appliance.platform.config import ApplianceConfig
from appliance.platform.executable import WEB_SERVER_COMMAND, appliance_command
from appliance.platform.locks import shared_lock
from appliance.security.passphrase import CREDENTIALS_ENV, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV
from appliance.security.tls import ensure_certificate, key_in_memory, uses_tls
from appliance.store.keyring import Keyset
from appliance.store.runtime import KEY_FD_ENV, open_store, send_keyset

logger = logging.getLogger(__name__)

STOP_GRACE_S = 20.0
# Supervision: a child that dies is started again after FIRST_BACKOFF_S, doubling up to
# MAX_BACKOFF_S while it keeps dying within STABLE_S of its start; after MAX_QUICK_FAILURES
# such failures in a row (it cannot start: a taken port, a broken install) serve gives up.
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_S = 30.0
MAX_QUICK_FAILURES = 6
# The children get keys, never a way to the passphrase (the systemd credential's folder too).
PASSPHRASE_VARIABLES = frozenset(
    {
        PASSPHRASE_ENV,
        PASSPHRASE_FILE_ENV,
        CREDENTIALS_ENV,
        "APPLIANCE_NEW_PASSPHRASE",
        "APPLIANCE_ADMIN_PASSWORD",
    }
)


def _spawn(
    argv: list[str], keyset: Keyset, config_path: Path, extra_fds: tuple[int, ...] = ()
) -> subprocess.Popen[bytes]:
    key_fd = send_keyset(keyset)
    # The children get the keys through the pipe; the passphrase stays with this process.
    env = {key: value for key, value in os.environ.items() if key not in PASSPHRASE_VARIABLES}
    env.update({KEY_FD_ENV: str(key_fd), "APPLIANCE_CONFIG": str(config_path)})
    try:
        return subprocess.Popen(argv, env=env, pass_fds=(key_fd, *extra_fds))
    finally:
        os.close(key_fd)


def gunicorn_argv(config: ApplianceConfig, tls_key_fd: int | None = None) -> list[str]:
    """The command line that serves the web UI (over HTTPS when given the key's descriptor:
    the web server reads the opened key from that inherited in-memory file)."""
    conf = resources.files("webui") / "gunicorn.conf.py"
    tls = (
        [
            "--certfile",
            str(config.paths.tls_certificate),
            "--keyfile",
            f"/proc/self/fd/{tls_key_fd}",
        ]
        if tls_key_fd is not None
        else []
    )
    return [
        *appliance_command(),
        WEB_SERVER_COMMAND,
        "--config",
        str(conf),
        *tls,
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
    argv = [*appliance_command(), "worker", "--config", str(config_path)]
    if lane == "batch" and config.worker.batch_niceness:
        argv += ["--nice", str(config.worker.batch_niceness)]
    if not config.worker.interactive_lane:
        return argv
    kinds = ",".join(config.worker.interactive_kinds)
    if lane == "interactive":
        return [*argv, "--only-kinds", kinds]
    # The batch lane leaves waiting-for-a-person jobs and the chores to the interactive one.
    return [*argv, "--except-kinds", kinds, "--no-chores"] if kinds else [*argv, "--no-chores"]


@dataclass
class _Child:
    """One supervised process: how to start it, the running one, and its restart record."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    fds: tuple[int, ...] = ()  # descriptors it inherits besides the keys (the TLS key)
    started: float = field(default_factory=time.monotonic)
    quick_failures: int = 0  # exits in a row, each soon after its start
    restart_at: float | None = None  # when a restart is due (None: running)

    def backoff_s(self) -> float:
        """How long to wait before the next start: doubling with each quick failure."""
        return float(min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2.0 ** max(0, self.quick_failures - 1)))


def _supervise(child: _Child, keyset: Keyset, config_path: Path, now: float) -> int | None:
    """Look after one child: note an exit and schedule its restart with back-off, or restart it
    when due. Returns an exit code when serve must give up (a child that cannot start)."""
    if child.restart_at is None:
        code = child.process.poll()
        if code is None:
            if now - child.started >= STABLE_S:
                child.quick_failures = 0  # ran long enough: the next failure starts afresh
            return None
        quick = now - child.started < STABLE_S
        child.quick_failures = child.quick_failures + 1 if quick else 1
        if child.quick_failures > MAX_QUICK_FAILURES:
            logger.error(
                "%s process failed %d times in a row right after starting (last exit %s);"
                " giving up",
                child.name,
                child.quick_failures,
                code,
            )
            return code or 1
        child.restart_at = now + child.backoff_s()
        logger.error(
            "%s process exited with %s; restarting in %.0f s (the others keep running)",
            child.name,
            code,
            child.backoff_s(),
        )
        return None
    if now >= child.restart_at:
        child.process = _spawn(child.argv, keyset, config_path, child.fds)
        child.started, child.restart_at = now, None
        logger.warning("%s process restarted (pid %d)", child.name, child.process.pid)
    return None


def serve(config: ApplianceConfig, keyset: Keyset, config_path: Path) -> int:
    """Run the web UI and the worker lanes until Ctrl-C/SIGTERM; a child that dies is started
    again with back-off while the others go on serving (serve gives up only on a child that
    keeps failing right after its start)."""
    # Fail before starting anything when the store cannot be used (wrong key, old schema) or
    # the web UI would speak plain HTTP beyond this machine.
    open_store(config, keyset).close()
    tls_key_fd: int | None = None
    scheme = "http"
    if uses_tls(config):
        certificate = ensure_certificate(config, keyset.device)
        tls_key_fd, scheme = key_in_memory(config, keyset.device), "https"
        print(f"certificate SHA-256 fingerprint: {certificate.fingerprint}", flush=True)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    with shared_lock(config.paths.lock):
        commands = {
            "web": gunicorn_argv(config, tls_key_fd),
            "worker": worker_argv(config, config_path, "batch"),
        }
        if config.worker.interactive_lane:
            commands["interactive"] = worker_argv(config, config_path, "interactive")
        web_fds = (tls_key_fd,) if tls_key_fd is not None else ()
        children = [
            _Child(
                name,
                argv,
                _spawn(argv, keyset, config_path, web_fds if name == "web" else ()),
                web_fds if name == "web" else (),
            )
            for name, argv in commands.items()
        ]
        print(
            f"web UI on {scheme}://{config.web.host}:{config.web.port}/ "
            f"(web pid {children[0].process.pid}, worker pid {children[1].process.pid}); "
            "Ctrl-C stops both",
            flush=True,
        )
        exit_code = 0
        try:
            while not stopping:
                now = time.monotonic()
                for child in children:
                    failed = _supervise(child, keyset, config_path, now)
                    if failed is not None:
                        exit_code, stopping = failed, True
                time.sleep(0.2)
        finally:
            _stop_all([c.process for c in children if c.restart_at is None])
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if tls_key_fd is not None:
        os.close(tls_key_fd)
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
