"""`python -m appliance serve` on a free loopback port, for the benchmarks that drive it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.ports import free_port


@contextmanager
def serving(
    config: str, env: dict[str, str], code: Path, log_path: Path, *, start_s: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `serve` from `code` with `config` and wait until /healthz answers; yield its base
    URL and process; stop it (terminate, then kill) however the block ends."""
    port = free_port()
    with open(log_path, "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve", "--config", config],
            env={**env, "APPLIANCE_WEB__PORT": str(port), "APPLIANCE_WEB__HOST": "127.0.0.1"},
            cwd=code,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_s
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert serve.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.3)
            yield base, serve
        finally:
            serve.terminate()
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
