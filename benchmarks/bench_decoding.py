"""The speech decoding table behind the defaults (docs/speech-decoding.md): Whisper base and
tiny.en x greedy / beam 5 x VAD on / off x language told / detected, on long-form audio with
pauses (the five LibriVox clips joined with 1.8 s silences; the Mandarin clips of
../shared/data/speech_zh joined the same way): word (English) or character (Mandarin) error
rate and CPU real-time factor, 2 threads.

`python -m pytest benchmarks/bench_decoding.py` writes the whole table to
benchmarks/results/speech_decoding.json; under `--benchmark-disable` (`make test`) only the
default configuration runs, as a smoke test that it keeps every word of the English answer.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from inference.media import decode_audio_pcm
from inference.speech.error_rates import error_rate
from inference.speech.normalise import normalise_transcript
from inference.speech.whisper import WhisperBackend
from tests.support.speech_packs import LIBRIVOX, SPEECH_ZH, load_speech_pack, speech_pack_dir

RESULTS = Path(__file__).resolve().parent / "results" / "speech_decoding.json"
SAMPLE_RATE = 16000
GAP_S = 1.8


def _pcm(path: Path) -> bytes:
    return b"".join(decode_audio_pcm(path, sample_rate=SAMPLE_RATE))


def _long_form() -> dict[str, tuple[bytes, str]]:
    """language -> (joined PCM, joined reference)."""
    gap = b"\x00\x00" * int(GAP_S * SAMPLE_RATE)
    found: dict[str, tuple[bytes, str]] = {}
    if (LIBRIVOX / "transcription").is_file():
        clips, refs = [], []
        for line in (LIBRIVOX / "transcription").read_text(encoding="utf-8").splitlines():
            match = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line.strip())
            if match:
                clips.append(_pcm(LIBRIVOX / f"{match.group(2)}.wav"))
                refs.append(match.group(1))
        found["en"] = (gap.join(clips), " ".join(refs))
    sources = SPEECH_ZH / "SOURCES.md"
    if sources.is_file():
        clips, refs = [], []
        for line in sources.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 2 and (SPEECH_ZH / cells[0]).is_file():
                clips.append(_pcm(SPEECH_ZH / cells[0]))
                refs.append(cells[1])
        if clips:
            found["zh"] = (gap.join(clips), "".join(refs))
    return found


def _row(
    backend: WhisperBackend, language: str, audio: bytes, ref: str, told: bool
) -> dict[str, Any]:
    started = time.process_time()
    transcript = backend.transcribe(
        [audio], sample_rate=SAMPLE_RATE, language=language if told else None
    )
    cpu = time.process_time() - started
    seconds = len(audio) / 2 / SAMPLE_RATE
    if language == "en":
        error = error_rate(ref, transcript.text, "en").value
    else:
        error = error_rate(ref, normalise_transcript(transcript).text, "zh").value
    return {
        "audio": language,
        "seconds": round(seconds, 1),
        "error": round(float(error), 3),
        "cpu_real_time_factor": round(cpu / seconds, 3),
        "heard_as": transcript.language,
    }


def test_decoding_table(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    folder = speech_pack_dir(tmp_path / "packs")
    audio = _long_form()
    if folder is None or "en" not in audio:
        pytest.skip("speech packs or LibriVox clips absent")
    quick = bool(request.config.getoption("benchmark_disable"))
    grid = (
        [("whisper-base", 5, True, True)]
        if quick
        else list(
            itertools.product(
                ("whisper-base", "whisper-tiny-en"), (1, 5), (True, False), (True, False)
            )
        )
    )
    rows: list[dict[str, Any]] = []
    for model, beam, vad, told in grid:
        if not (folder / model).is_dir():
            continue
        backend = WhisperBackend(
            load_speech_pack(folder, model), cpu_threads=2, beam_size=beam, vad_filter=vad
        )
        try:
            for language, (pcm, ref) in audio.items():
                if model.endswith("-en") and language != "en":
                    continue
                row = _row(backend, language, pcm, ref, told)
                rows.append(
                    {
                        "model": model,
                        "beam": beam,
                        "vad": vad,
                        "language": "told" if told else "detected",
                        **row,
                    }
                )
        finally:
            backend.close()
    default = next(
        r
        for r in rows
        if r["model"] == "whisper-base"
        and r["beam"] == 5
        and r["vad"]
        and r["language"] == "told"
        and r["audio"] == "en"
    )
    assert default["error"] <= 0.05, default
    if not quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps({"load_average_1m": round(os.getloadavg()[0], 2), "rows": rows}, indent=1)
            + "\n",
            encoding="utf-8",
        )
