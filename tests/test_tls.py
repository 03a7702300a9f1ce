"""HTTPS for the web UI: a self-signed certificate made at provisioning (fingerprint printed),
its key sealed at rest and handed to gunicorn in memory only, HTTPS that a client trusting the
certificate can use, plain HTTP refused beyond loopback, and the organisation's own pair
installed with `tls import`."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from appliance.security.tls import describe, self_signed
from tests.conftest import REPO, Appliance, make_appliance
from tests.support.ports import free_port

pytestmark = pytest.mark.slow


def _no_clear_key(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"PRIVATE KEY" not in path.read_bytes(), path


def test_provisioning_makes_a_certificate_with_its_key_sealed(tmp_path: Path) -> None:
    appliance = make_appliance(tmp_path)
    paths = appliance.config.paths
    certificate = describe(paths.tls_certificate.read_bytes())
    assert "127.0.0.1" in certificate.names and "localhost" in certificate.names
    assert len(certificate.fingerprint.split(":")) == 32
    assert paths.tls_sealed_key.stat().st_mode & 0o077 == 0
    _no_clear_key(appliance.data_dir)
    shown = appliance.cli("tls", "show")
    assert shown.returncode == 0 and certificate.fingerprint in shown.stdout


def _https_get(port: int, cafile: Path, path: str = "/healthz") -> int:
    context = ssl.create_default_context(cafile=str(cafile))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    with opener.open(f"https://127.0.0.1:{port}{path}", timeout=5) as reply:
        return int(reply.status)


def test_serve_speaks_https_with_the_key_only_in_memory(tmp_path: Path) -> None:
    appliance = make_appliance(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve", "--config", str(appliance.config_path)],
            env=appliance.env(
                APPLIANCE_WEB__PORT=str(port),
                APPLIANCE_WEB__HOST="127.0.0.1",
                APPLIANCE_WEB__TLS="on",
            ),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    cert = appliance.config.paths.tls_certificate
    try:
        deadline = time.monotonic() + 60
        while True:
            assert popen.poll() is None, log.read_text()
            try:
                assert _https_get(port, cert) == 200
                break
            except (OSError, ssl.SSLError):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        assert describe(cert.read_bytes()).fingerprint in log.read_text()
        assert f"https://127.0.0.1:{port}/" in log.read_text()
        # Plain HTTP to the same port gets no page.
        with pytest.raises(OSError):
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"http://127.0.0.1:{port}/healthz", timeout=5
            ).read()
        # A client that does not trust the certificate is refused by its own check.
        with pytest.raises(OSError):
            urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=5)
        # The key reaches gunicorn as an in-memory file, never a path on disk.
        web = next(
            child
            for child in psutil.Process(popen.pid).children()
            if "gunicorn" in " ".join(child.cmdline())
        )
        line = web.cmdline()
        keyfile = line[line.index("--keyfile") + 1]
        assert keyfile.startswith("/proc/self/fd/")
        target = os.readlink(f"/proc/{web.pid}/fd/{keyfile.rsplit('/', 1)[1]}")
        assert target.startswith("/memfd:"), target
        _no_clear_key(appliance.data_dir)
        # The container's HEALTHCHECK: the same page, trusting the box's own certificate.
        assert _healthcheck(appliance, port).returncode == 0
    finally:
        popen.terminate()
        popen.wait(timeout=30)
    stopped = _healthcheck(appliance, port)
    assert stopped.returncode == 1 and "does not answer" in stopped.stderr


def _healthcheck(appliance: Appliance, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance", "healthcheck", "--config", str(appliance.config_path)],
        env=appliance.env(
            APPLIANCE_WEB__PORT=str(port),
            APPLIANCE_WEB__HOST="0.0.0.0",  # noqa: S104 - a wildcard bind is asked on loopback
            APPLIANCE_WEB__TLS="on",
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_plain_http_beyond_loopback_is_refused(tmp_path: Path) -> None:
    appliance = make_appliance(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "appliance", "serve", "--config", str(appliance.config_path)],
        env=appliance.env(APPLIANCE_WEB__HOST="0.0.0.0", APPLIANCE_WEB__TLS="off"),  # noqa: S104
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 50
    assert "plain HTTP is allowed on a loopback address only" in done.stderr


def test_the_organisations_own_pair_is_installed_and_a_stranger_key_refused(
    appliance: Appliance, tmp_path: Path
) -> None:
    cert_pem, key_pem = self_signed("intranet.example.internal")
    _other_cert, other_key = self_signed("elsewhere.example.internal")
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "other.pem").write_bytes(other_key)
    cert_arg = ["--cert", str(tmp_path / "cert.pem")]
    wrong = appliance.cli("tls", "import", *cert_arg, "--key", str(tmp_path / "other.pem"))
    assert wrong.returncode == 50 and "does not belong to the certificate" in wrong.stderr
    done = appliance.cli("tls", "import", *cert_arg, "--key", str(tmp_path / "key.pem"))
    assert done.returncode == 0, done.stderr
    fingerprint = describe(cert_pem).fingerprint
    assert fingerprint in done.stdout and "intranet.example.internal" in done.stdout
    assert appliance.config.paths.tls_certificate.read_bytes() == cert_pem
    _no_clear_key(appliance.data_dir)
    renewed = appliance.cli("tls", "renew")
    assert renewed.returncode == 0 and fingerprint not in renewed.stdout
