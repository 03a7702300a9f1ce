"""Config: TOML + environment, unknown keys rejected, validate-config reports locations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from appliance.platform.config import DEFAULT_PIPELINE, ApplianceConfig, load_config
from appliance.platform.errors import ConfigError

from .conftest import REPO


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_file_values_and_relative_data_dir(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.toml", 'data_dir = "data"\n[web]\nport = 9100\n')
    config = load_config(path)
    assert config.web.port == 9100
    assert config.data_dir == tmp_path / "data"
    assert config.worker.pipeline == list(DEFAULT_PIPELINE)


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "a.toml", 'data_dir = "d"\n[web]\nport = 9100\n')
    monkeypatch.setenv("APPLIANCE_WEB__PORT", "9200")
    monkeypatch.setenv("APPLIANCE_WORKER__MAX_ATTEMPTS", "5")
    config = load_config(path)
    assert (config.web.port, config.worker.max_attempts) == (9200, 5)


def test_unknown_keys_and_bad_values_are_errors_with_locations(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.toml",
        'data_dir = "d"\ncolour = "blue"\n[web]\nport = 70000\nbogus = 1\n'
        '[worker]\nmax_attempts = "many"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    for location in ("colour", "web.port", "web.bogus", "worker.max_attempts"):
        assert f": {location}: " in message


def test_toml_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path / "x.toml", "data_dir = \n"))


def test_validate_config_command(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.toml", 'data_dir = "d"\n[web]\nport = 0\nextra = 1\n')
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "validate-config", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith(f"{bad}: web.port: ") for line in lines)
    assert any(line.startswith(f"{bad}: web.extra: Extra inputs") for line in lines)
    good = _write(tmp_path / "good.toml", 'data_dir = "d"\n')
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "validate-config", str(good)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str | None]]:
    found = []
    for name, field in model.model_fields.items():
        found.append((prefix + name, field.description))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_fields(annotation, f"{prefix}{name}."))
    return found


def test_every_config_field_has_a_description() -> None:
    missing = [name for name, description in _fields(ApplianceConfig) if not description]
    assert missing == []
    assert len(_fields(ApplianceConfig)) > 25


def test_rendered_config_round_trips_tables_and_lists(tmp_path: Path) -> None:
    """Dict fields (per-language speech choices) are written as TOML tables, not strings."""
    from appliance.platform.config import render_config

    config = ApplianceConfig(
        data_dir=tmp_path,
        inference={
            "speech": {"en": "vosk:vosk-en", "zh-TW": "whisper:whisper-base", "*": "whisper:x"},
            "speech_options": {"whisper": {"beam_size": 5, "vad_filter": False}},
            "pack_dirs": [tmp_path / "packs"],
        },
    )
    (tmp_path / "appliance.toml").write_text(render_config(config), encoding="utf-8")
    again = load_config(tmp_path / "appliance.toml")
    assert again.inference.speech == {
        "en": "vosk:vosk-en",
        "zh-TW": "whisper:whisper-base",
        "*": "whisper:x",
    }
    assert again.inference.speech_options == {"whisper": {"beam_size": 5, "vad_filter": False}}
    assert again.inference.pack_dirs == [tmp_path / "packs"]
