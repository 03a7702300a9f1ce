"""What our transcribe step costs on top of bare faster-whisper, on the same audio and model.

Both sides use the very same loaded `WhisperModel` (Whisper base, int8, 2 CPU threads) with the
same settings, the project's defaults: language detected once (our step keeps the interview's
language unless detection is sure of another), beam 5, word timestamps, VAD filter with 500 ms
silences. A second baseline tells faster-whisper the language instead: the gap to it is what
checking the spoken language costs.
The bare side hands faster-whisper the file path (it decodes with PyAV itself); our side runs
`TranscribeStep` exactly as the worker does, except that `open_media` opens the plain file
instead of the encrypted spool: decoding to PCM, windowing, conversion to our Transcript,
Mandarin/punctuation normalisation and the JSON section are all inside the measurement.

`make bench` shows both side by side; `test_speech_overhead_report` alternates the two several
times and writes the median ratio to benchmarks/results/speech_overhead.json (goal: at most
5 % overhead).  Under `--benchmark-disable` (`make test`) one short clip and fewer repetitions
keep it a quick smoke test.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from appliance.analysis.pipeline import ReportDraft, StepContext
from appliance.analysis.steps.transcribe import TranscribeStep
from appliance.engines.runtime import forget_loaded_models, speech_backend_for
from appliance.platform.config import ApplianceConfig
from appliance.store.recordings import Recording
from inference.media import decode_audio_pcm
from inference.speech.whisper import WhisperBackend
from tests.support.speech_packs import LIBRIVOX, encode_speech, speech_pack_dir

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULT_FILE = RESULTS_DIR / "speech_overhead.json"
FULL_REPETITIONS = 5
QUICK_REPETITIONS = 1
GOAL = 0.05
SAMPLE_RATE = 16000


@dataclass
class SpeechBench:
    """The shared model, the audio file and a step context that opens it."""

    backend: WhisperBackend
    audio: Path
    audio_s: float
    ctx: StepContext
    quick: bool


def _quick(request: pytest.FixtureRequest) -> bool:
    options = request.config
    return bool(options.getoption("benchmark_disable")) and not options.getoption(
        "benchmark_only", default=False
    )


def _answer_audio(folder: Path, quick: bool) -> Path:
    """A browser-style WebM/Opus answer: one LibriVox clip (quick) or all five with pauses."""
    clips = sorted(LIBRIVOX.glob("*.wav"))
    if not clips:
        pytest.skip("pocketsphinx-testdata is not installed")
    chosen = clips[:1] if quick else clips
    gap = np.zeros(int(1.5 * SAMPLE_RATE), dtype="<i2")
    parts: list[np.ndarray] = []
    for clip in chosen:
        parts += [np.frombuffer(b"".join(decode_audio_pcm(clip)), dtype="<i2"), gap]
    joined = folder / "answer.wav"
    with wave.open(str(joined), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.concatenate(parts).tobytes())
    return encode_speech(joined, folder / "answer.webm", codec="libopus", rate=48000)


@pytest.fixture(scope="module")
def bench(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[SpeechBench]:
    """Whisper base through the worker's model cache, and an answer to transcribe."""
    root = tmp_path_factory.mktemp("bench-speech")
    packs = speech_pack_dir(root / "packs")
    if packs is None:
        pytest.skip("no speech model packs in var/model-packs")
    quick = _quick(request)
    config = ApplianceConfig(
        data_dir=root / "data",
        inference={"pack_dirs": [packs], "cpu_threads": 2},
        worker={"pipeline": ["transcribe"]},
    )
    backend = speech_backend_for(config, "en")
    assert isinstance(backend, WhisperBackend)
    audio = _answer_audio(root, quick)
    audio_s = sum(len(c) for c in decode_audio_pcm(audio)) / 2 / SAMPLE_RATE
    recording = Recording(
        0, 0, 0, "bench", audio.name, "audio/webm", audio.stat().st_size, "", b"", None, ""
    )
    ctx = StepContext(
        job_id=0,
        recording=recording,
        region="US-MD",
        language="en",
        config=config,
        open_media=lambda: open(audio, "rb", buffering=0),  # noqa: SIM115 - the step closes it
        scratch_dir=root,
        report_progress=lambda fraction, step: None,
    )
    yield SpeechBench(backend, audio, audio_s, ctx, quick)
    forget_loaded_models()


def bare_faster_whisper(bench: SpeechBench, language: str | None = None) -> int:
    """faster-whisper alone on the file: the baseline (returns the number of words); with
    `language=None` it detects the language as our step does, else it is told."""
    segments, _info = bench.backend.engine.transcribe(
        str(bench.audio),
        language=language,
        task="transcribe",
        beam_size=5,
        word_timestamps=True,
        vad_filter=True,
        vad_parameters={"min_silence_duration_ms": 500},
    )
    return sum(len(seg.words or ()) for seg in segments)


def our_transcribe_step(bench: SpeechBench) -> int:
    """The pipeline's transcribe step on the same file (returns the number of words)."""
    draft = ReportDraft(media_info={"duration_s": bench.audio_s, "has_audio": True})
    draft = TranscribeStep().run(bench.ctx, draft)
    return sum(len(seg["words"]) for seg in draft.sections["transcript"]["segments"])


def test_transcribe_bare_faster_whisper(benchmark: Any, bench: SpeechBench) -> None:
    benchmark.group = "speech"
    words = benchmark.pedantic(bare_faster_whisper, args=(bench,), rounds=3, iterations=1)
    assert words > 0


def test_transcribe_our_step(benchmark: Any, bench: SpeechBench) -> None:
    benchmark.group = "speech"
    words = benchmark.pedantic(our_transcribe_step, args=(bench,), rounds=3, iterations=1)
    assert words > 0


def measure_overhead(bench: SpeechBench, repetitions: int) -> dict[str, Any]:
    """Alternate bare and step runs (after one warm-up each); median times and their ratio."""
    bare_words = bare_faster_whisper(bench)
    step_words = our_transcribe_step(bench)
    told_words = bare_faster_whisper(bench, "en")
    process = psutil.Process()
    bare: list[float] = []
    step: list[float] = []
    told: list[float] = []
    bare_cpu: list[float] = []
    step_cpu: list[float] = []
    told_cpu: list[float] = []

    def told_language(bench: SpeechBench) -> int:
        return bare_faster_whisper(bench, "en")

    for _ in range(repetitions):
        for runner, times, cpus in (
            (bare_faster_whisper, bare, bare_cpu),
            (our_transcribe_step, step, step_cpu),
            (told_language, told, told_cpu),
        ):
            cpu_before = sum(process.cpu_times()[:2])
            started = time.perf_counter()
            runner(bench)
            times.append(time.perf_counter() - started)
            cpus.append(sum(process.cpu_times()[:2]) - cpu_before)
    bare_median, step_median = statistics.median(bare), statistics.median(step)
    bare_cpu_median, step_cpu_median = statistics.median(bare_cpu), statistics.median(step_cpu)
    return {
        "audio": "LibriVox clips as WebM/Opus (48 kHz), "
        + ("1 clip" if bench.quick else "5 clips with 1.5 s pauses"),
        "audio_s": round(bench.audio_s, 2),
        "model": bench.backend.model_name,
        "cpu_threads": 2,
        "repetitions": repetitions,
        "bare_median_s": round(bare_median, 3),
        "step_median_s": round(step_median, 3),
        "bare_times_s": [round(t, 3) for t in bare],
        "step_times_s": [round(t, 3) for t in step],
        "overhead": round(step_median / bare_median - 1, 4),
        # CPU time of the process (all threads): steadier than wall time on a shared machine.
        "bare_cpu_median_s": round(bare_cpu_median, 3),
        "step_cpu_median_s": round(step_cpu_median, 3),
        "cpu_overhead": round(step_cpu_median / bare_cpu_median - 1, 4),
        # Against faster-whisper told the language (no detection pass): the price of the check.
        "told_language_median_s": round(statistics.median(told), 3),
        "told_language_cpu_median_s": round(statistics.median(told_cpu), 3),
        "cpu_overhead_vs_told_language": round(
            step_cpu_median / statistics.median(told_cpu) - 1, 4
        ),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal_overhead": GOAL,
        "words": {"bare": bare_words, "step": step_words, "told_language": told_words},
        "real_time_factor_step": round(step_median / bench.audio_s, 3),
    }


def test_speech_overhead_report(benchmark: Any, bench: SpeechBench) -> None:
    repetitions = QUICK_REPETITIONS if bench.quick else FULL_REPETITIONS
    report: dict[str, Any] = benchmark.pedantic(
        measure_overhead, args=(bench, repetitions), rounds=1, iterations=1
    )
    report["benchmarks_disabled"] = bench.quick
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if not bench.quick or not RESULT_FILE.is_file():
        # A quick CI run never overwrites the figures of a real benchmark run.
        RESULT_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(
        f"\nspeech step vs bare faster-whisper on {report['audio_s']} s: "
        f"{report['step_median_s']} s vs {report['bare_median_s']} s, "
        f"overhead {report['overhead']:+.1%} wall, {report['cpu_overhead']:+.1%} CPU time "
        f"(goal <= {GOAL:.0%})"
    )
    # Same model, same audio, same settings: the same words come out.
    assert abs(report["words"]["bare"] - report["words"]["step"]) <= 1
    assert report["bare_median_s"] > 0 and report["step_median_s"] > 0
