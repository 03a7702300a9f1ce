"""`python -m appliance serve` started on a free loopback port for a test, and plain HTTP to it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import REPO, Appliance
from tests.support.ports import free_port

__all__ = ["Response", "Serving", "free_port", "http_get", "serve_command", "serving"]

# Loopback only, and never through a proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_get(port: int, path: str, *, timeout: float = 10) -> Response:
    """GET http://127.0.0.1:PORT/PATH; HTTP error statuses are returned, not raised."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with _OPENER.open(url, timeout=timeout) as reply:
            return Response(reply.status, reply.headers, reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read())


@dataclass
class Serving:
    """A running `serve` process and what it started."""

    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def healthz(self) -> dict[str, Any]:
        reply = http_get(self.port, "/healthz")
        assert reply.status == 200, reply
        data: dict[str, Any] = reply.json()
        return data

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.popen.pid).children(recursive=True)


def _wait_until_up(serving: Serving, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert serving.popen.poll() is None, f"serve exited early:\n{serving.output()}"
        try:
            if http_get(serving.port, "/healthz", timeout=2).status == 200:
                return
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"no answer on /healthz:\n{serving.output()}"
        time.sleep(0.2)


@contextmanager
def serve_command(
    argv: list[str], env: dict[str, str], cwd: Path, log: Path, *, port: int, start_s: float = 60
) -> Iterator[Serving]:
    """Run a `serve` command line listening on `port` until /healthz answers; whatever still
    runs afterwards (serve and its children) is killed."""
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    started = Serving(popen, port, log)
    family: list[psutil.Process] = []
    try:
        _wait_until_up(started, start_s)
        family = [psutil.Process(popen.pid), *started.descendants()]
        yield started
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=10)
        for process in family[1:]:
            with suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(family[1:], timeout=10)


@contextmanager
def serving(appliance: Appliance, tmp_path: Path) -> Iterator[Serving]:
    """Start `serve` on a free loopback port; whatever still runs afterwards is killed."""
    port = free_port()
    with serve_command(
        [sys.executable, "-m", "appliance", "serve", "--config", str(appliance.config_path)],
        appliance.env(APPLIANCE_WEB__PORT=str(port), APPLIANCE_WEB__HOST="127.0.0.1"),
        REPO,
        tmp_path / "serve.log",
        port=port,
    ) as started:
        yield started
