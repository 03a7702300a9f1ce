"""Shared fixtures: a real provisioned appliance (SQLCipher, sealed keys, spool) in tmp_path."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from appliance.media.spool import Spool
from appliance.platform.config import ApplianceConfig, load_config, render_config
from appliance.security.outbound import install_outbound_guard
from appliance.security.sealing import PassphraseSealer
from appliance.store import Store
from appliance.store.keyring import Keyset, unlock
from appliance.store.runtime import open_store
from inference.packs import PackRegistry
from provisioning.provision import provision

REPO = Path(__file__).resolve().parents[1]

# The whole suite runs under the appliance's outbound guard, as the appliance's processes do:
# a test (or a library under test) that tried to reach beyond this machine fails.
install_outbound_guard(())
SHARED_DATA = REPO.parent / "shared" / "data"
PASSPHRASE = "test passphrase for the appliance"
FAST_SCRYPT = 14  # the lowest cost the sealer accepts: keeps tests quick
# Factory-built model packs (`make setup` builds them from registry wheels) and real test media.
MODEL_PACKS = Path(os.environ.get("APPLIANCE_TEST_PACKS", REPO / "var" / "model-packs"))
TEST_MEDIA = REPO / "var" / "test-media"


@dataclass
class Appliance:
    """A provisioned appliance in a temporary folder."""

    config: ApplianceConfig
    config_path: Path
    keyset: Keyset
    passphrase: str

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a CLI subprocess of this appliance."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
        env.update({"APPLIANCE_PASSPHRASE": self.passphrase, "PYTHONPATH": str(REPO)})
        env.update(extra)
        return env

    def cli(
        self, *args: str, timeout: float = 120, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run `python -m appliance ARGS --config <this appliance>`."""
        return subprocess.run(
            [sys.executable, "-m", "appliance", *args, "--config", str(self.config_path)],
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            check=False,
        )

    def open_store(self) -> Store:
        return open_store(self.config, self.keyset)

    def spool(self) -> Spool:
        return Spool(self.config.paths.spool, chunk_size=self.config.media.spool_chunk_bytes)


def make_appliance(root: Path, **overrides: object) -> Appliance:
    """Provision a real appliance under `root` with fast test settings."""
    settings: dict[str, object] = {
        "data_dir": root / "data",
        "keys": {"scrypt_log2_n": FAST_SCRYPT},
        "worker": {
            "poll_interval_s": 0.05,
            "heartbeat_interval_s": 0.2,
            "stale_after_s": 5,
            "backoff_base_s": 0.0,
            "backoff_max_s": 0.0,
            # Queue and worker tests only need the media checked; the tests of the analysis
            # itself ask for the steps they exercise (or the full DEFAULT_PIPELINE).
            "pipeline": ["probe", "policy_gate"],
        },
        "inference": {"pack_dirs": [MODEL_PACKS]},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}  # type: ignore[dict-item]
        else:
            settings[key] = value
    config = ApplianceConfig(**settings)  # type: ignore[arg-type]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.paths.config.write_text(render_config(config), encoding="utf-8")
    config = load_config(config.paths.config)
    sealer = PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT)
    provision(config, sealer, admin_password="admin-password-for-tests")
    return Appliance(config, config.paths.config, unlock(config.paths, sealer), PASSPHRASE)


@pytest.fixture(scope="session")
def model_packs() -> PackRegistry:
    """The factory-built model packs (skips cleanly when `make setup` has not built them)."""
    if not (MODEL_PACKS / "whisper-base" / "manifest.json").is_file():
        pytest.skip(f"model packs not built at {MODEL_PACKS} (run `make setup`)")
    return PackRegistry([MODEL_PACKS])


@pytest.fixture
def appliance(tmp_path: Path) -> Appliance:
    """A freshly provisioned appliance."""
    return make_appliance(tmp_path)


@pytest.fixture
def store(appliance: Appliance) -> Iterator[Store]:
    """The appliance's store, closed afterwards."""
    opened = appliance.open_store()
    yield opened
    opened.close()


def write_wav(
    path: Path, seconds: float, *, rate: int = 16000, freq: float = 440.0, marker: bytes = b""
) -> Path:
    """A real PCM WAV of a tone; `marker` bytes are embedded verbatim in the sample data."""
    t = np.arange(int(seconds * rate), dtype=np.float64) / rate
    frames = bytearray((9000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes())
    if marker:
        frames[4000 : 4000 + len(marker)] = marker
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def demo_interview(store: Store, *, name: str = "Test Candidate", region: str = "EU") -> int:
    """A candidate with one interview for a requisition; returns the interview id."""
    with store.transaction():
        requisition = store.requisitions.create("Engineer", "Engineering", "Berlin", region)
    candidate = store.candidates.create(name, email="candidate@example.invalid")
    return store.interviews.create(candidate.id, requisition.id).id


# --- Web UI ------------------------------------------------------------------------------------

USER_PASSWORD = "a long test password 1"


@functools.cache
def _password_hash(password: str) -> str:
    # One real argon2id hash per password and test run: hashing is deliberately slow.
    from appliance.accounts.auth import hash_password

    return hash_password(password)


def make_user(
    store: Store,
    username: str,
    role: str,
    *,
    departments: list[str] | None = None,
    regions: list[str] | None = None,
    password: str = USER_PASSWORD,
) -> int:
    """An account with a real argon2id password; returns its id."""
    with store.transaction():
        user = store.users.create(
            username,
            username.replace(".", " ").title(),
            role,
            password_hash=_password_hash(password),
            departments=departments or [],
            regions=regions or [],
        )
    return user.id


@pytest.fixture
def web(appliance: Appliance, store: Store):  # type: ignore[no-untyped-def]
    """A Flask app over the real store, CSRF on (as in production); yields (app, store)."""
    from webui import create_app

    app = create_app(appliance.config, store)
    app.config.update(TESTING=True, SESSION_COOKIE_SECURE=False)
    yield app, store


def csrf_token_from(html: str) -> str:
    """The CSRF token embedded in a rendered page."""
    import re

    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client, username: str, password: str = USER_PASSWORD):  # type: ignore[no-untyped-def]
    """Log in through the real form (with its CSRF token); returns the response."""
    page = client.get("/login")
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
