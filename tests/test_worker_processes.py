"""The worker against a real encrypted store: real processes, real media, real failures.

Nothing here is mocked: jobs are claimed from the SQLCipher queue by `python -m appliance worker`
subprocesses (or by an in-process `Worker` where only the failure handling is under test), and
the media are real files probed by PyAV.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av
import numpy as np
import pytest

from appliance.jobs.worker import Worker
from appliance.media.recordings import Ingested, ingest_recording
from appliance.media.spool import PARTIAL_PREFIX
from appliance.platform.clock import from_stamp
from appliance.platform.errors import MediaRejectedError, QueueFullError
from appliance.platform.scratch import scratch_root
from appliance.store import Store
from appliance.store.db import integrity_problems
from tests.conftest import REPO, Appliance, demo_interview, make_appliance, write_wav

pytestmark = pytest.mark.slow

SPOOL_NAME = re.compile(r"[0-9a-f]{32}\.spool")
HOSTILE_NAME = "../../etc/evil\x00\x1b[31m\n.wav"
# One hour of 16 kHz mono PCM: probing it from the encrypted spool takes about two seconds,
# long enough to observe the job running and kill its worker in the middle of it.
LONG_WAV_SECONDS = 3600.0


# --------------------------------------------------------------------------- helpers


def fast_wav(path: Path, seconds: float, *, rate: int = 16000) -> Path:
    """A long PCM WAV of a 400 Hz tone, built with numpy (write_wav is per-sample Python)."""
    period = rate // 400
    one = (9000 * np.sin(2 * np.pi * np.arange(period) / period)).astype("<i2")
    samples = np.tile(one, int(seconds * rate) // period + 1)[: int(seconds * rate)]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def write_mp4(path: Path, seconds: float = 3.0) -> Path:
    """A real MP4 (H.264 or MPEG-4 video plus AAC audio), index at the end (no faststart)."""
    try:
        av.Codec("libx264", "w")
        vcodec = "libx264"
    except Exception:
        vcodec = "mpeg4"
    rate, fps, width, height = 44100, 25, 96, 64
    with av.open(str(path), mode="w") as out:
        vstream: Any = out.add_stream(vcodec, rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        astream: Any = out.add_stream("aac", rate=rate)
        astream.layout = "mono"
        for i in range(round(seconds * fps)):
            img = np.zeros((height, width, 3), np.uint8)
            img[:, (i * 3) % width : (i * 3) % width + 16] = (255, (i * 10) % 256, 64)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in vstream.encode(frame):
                out.mux(packet)
        for packet in vstream.encode(None):
            out.mux(packet)
        n = round(seconds * rate)
        pcm = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate) * 32767).astype(np.int16)
        formats = astream.codec_context.codec.audio_formats
        resampler = av.AudioResampler(
            format=formats[0].name if formats else "fltp", layout="mono", rate=rate
        )
        for offset in range(0, n, 1024):
            aframe = av.AudioFrame.from_ndarray(
                pcm[None, offset : offset + 1024], format="s16", layout="mono"
            )
            aframe.sample_rate, aframe.pts, aframe.time_base = rate, offset, Fraction(1, rate)
            for resampled in resampler.resample(aframe):
                for packet in astream.encode(resampled):
                    out.mux(packet)
        for resampled in resampler.resample(None):
            for packet in astream.encode(resampled):
                out.mux(packet)
        for packet in astream.encode(None):
            out.mux(packet)
    return path


def ingest(
    appliance: Appliance, store: Store, interview_id: int, source: IO[bytes] | Path, filename: str
) -> Ingested:
    """Ingest a file or a byte stream the way the CLI does."""
    spool = appliance.spool()
    if isinstance(source, Path):
        with open(source, "rb") as handle:
            return ingest_recording(
                store,
                spool,
                appliance.config,
                interview_id=interview_id,
                source=handle,
                filename=filename,
                actor="test",
            )
    return ingest_recording(
        store,
        spool,
        appliance.config,
        interview_id=interview_id,
        source=source,
        filename=filename,
        actor="test",
    )


def spool_entries(appliance: Appliance) -> set[str]:
    """Every entry of the spool folder, partial writes included."""
    folder = appliance.config.paths.spool
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def recording_count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM recordings").fetchone()[0])


def job_count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM jobs").fetchone()[0])


def all_job_ids(store: Store) -> list[int]:
    return [int(row[0]) for row in store.conn.execute("SELECT id FROM jobs ORDER BY id")]


def report_job_ids(store: Store) -> list[int]:
    return [int(row[0]) for row in store.conn.execute("SELECT job_id FROM reports ORDER BY id")]


def assert_sound(store: Store) -> None:
    """SQLCipher's page HMACs and SQLite's integrity check pass on both databases."""
    assert integrity_problems(store.conn) == []
    assert integrity_problems(store.vault_conn) == []


class WorkerProcess:
    """`python -m appliance worker` as a subprocess, its output collected in a log file."""

    def __init__(self, appliance: Appliance, log: Path, *args: str) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "appliance",
                "worker",
                "--config",
                str(appliance.config_path),
                *args,
            ],
            env=appliance.env(),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {self.pid} still running after {timeout:.0f} s:\n{self.output()}")

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self._out.close()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker subprocesses started by a test; killed afterwards if still alive."""
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        process.close()


# --------------------------------------------------------------------------- kill -9 mid-job


@pytest.mark.realtime
def test_worker_killed_mid_job_is_recovered_and_the_job_completes_once(
    tmp_path: Path, appliance: Appliance, store: Store, workers: list[WorkerProcess]
) -> None:
    interview_id = demo_interview(store)
    source = fast_wav(tmp_path / "long.wav", LONG_WAV_SECONDS)
    job_id = ingest(appliance, store, interview_id, source, "long.wav").job.id
    source.unlink()

    _kill_and_recover(tmp_path, appliance, store, workers, interview_id, job_id)


def _scratch_entries(appliance: Appliance, job_id: int) -> set[Path]:
    root = scratch_root(appliance.config.data_dir)
    return set(root.glob(f"job{job_id}-*")) if root.is_dir() else set()


def _kill_and_recover(
    tmp_path: Path,
    appliance: Appliance,
    store: Store,
    workers: list[WorkerProcess],
    interview_id: int,
    job_id: int,
) -> None:
    scratch_before = _scratch_entries(appliance, job_id)
    first = WorkerProcess(appliance, tmp_path / "worker1.log")
    workers.append(first)
    deadline = time.monotonic() + 60
    while store.jobs.get(job_id).state != "running":
        assert first.popen.poll() is None, f"worker exited early:\n{first.output()}"
        assert time.monotonic() < deadline, f"job never started:\n{first.output()}"
        time.sleep(0.02)
    time.sleep(0.3)  # well inside the ~2 s probe: the heartbeat thread is running too
    assert store.jobs.get(job_id).state == "running", "the job finished before the kill"
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    # A worker killed with SIGKILL cannot wipe its job's scratch folder: the next one must.
    orphans = _scratch_entries(appliance, job_id) - scratch_before
    assert len(orphans) == 1

    abandoned = store.jobs.get(job_id)
    assert abandoned.state == "running"  # nobody cleaned up: the worker died
    assert abandoned.attempts == 1
    assert [run["outcome"] for run in store.jobs.runs(job_id)] == [None]
    assert report_job_ids(store) == []

    second = WorkerProcess(appliance, tmp_path / "worker2.log", "--exit-when-idle")
    workers.append(second)
    assert second.wait(120) == 0, second.output()
    assert "requeued job" in second.output()
    assert "wiped scratch folder" in second.output()
    assert not any(orphan.exists() for orphan in orphans)

    job = store.jobs.get(job_id)
    assert (job.state, job.attempts, job.error_code) == ("succeeded", 2, None), job
    runs = store.jobs.runs(job_id)
    assert [run["outcome"] for run in runs] == ["abandoned", "succeeded"]
    assert [run["attempt"] for run in runs] == [1, 2]
    assert runs[0]["worker_id"] != runs[1]["worker_id"]
    assert f":{first.pid}:" in runs[0]["worker_id"]
    assert runs[0]["error"] == "the worker running it stopped unexpectedly"
    assert sum(run["outcome"] == "succeeded" for run in runs) == 1
    reports = [r for r in store.reports.for_interview(interview_id) if r.job_id == job_id]
    assert len(reports) == 1
    assert job.result is not None and job.result["report_id"] == reports[0].id
    assert set(job.result["step_seconds"]) == {"probe", "policy_gate"}  # for /metrics
    media = store.recordings.get(reports[0].recording_id or 0).media_info
    assert media is not None
    assert media["duration_s"] == pytest.approx(LONG_WAV_SECONDS, abs=0.1)
    assert store.interviews.get(interview_id).status == "analysed"
    assert_sound(store)


# --------------------------------------------------------------------------- 4 workers x 200 jobs


@pytest.mark.realtime
def test_four_workers_share_two_hundred_jobs_without_duplicates(
    tmp_path: Path, appliance: Appliance, store: Store, workers: list[WorkerProcess]
) -> None:
    jobs_wanted = 200
    tiny = write_wav(tmp_path / "tiny.wav", 0.2).read_bytes()
    interviews = [demo_interview(store, name=f"Candidate {n}") for n in range(4)]
    job_ids = [
        ingest(appliance, store, interviews[n % 4], io.BytesIO(tiny), f"clip-{n}.wav").job.id
        for n in range(jobs_wanted)
    ]
    assert store.jobs.counts() == {"queued": jobs_wanted}

    for n in range(4):
        workers.append(WorkerProcess(appliance, tmp_path / f"worker{n}.log", "--exit-when-idle"))
    deadline = time.monotonic() + 240
    for process in workers:
        assert process.wait(deadline - time.monotonic()) == 0, process.output()

    assert store.jobs.counts() == {"succeeded": jobs_wanted}
    assert all_job_ids(store) == sorted(job_ids)
    workers_used: set[str] = set()
    for job_id in job_ids:
        job = store.jobs.get(job_id)
        assert (job.state, job.attempts) == ("succeeded", 1), job
        runs = store.jobs.runs(job_id)
        assert [run["outcome"] for run in runs] == ["succeeded"], runs
        workers_used.add(runs[0]["worker_id"])
    reported = report_job_ids(store)
    assert len(reported) == jobs_wanted
    assert sorted(set(reported)) == sorted(job_ids)
    assert sum(len(store.reports.for_interview(i)) for i in interviews) == jobs_wanted
    assert len(workers_used) >= 2, f"all jobs ran on {workers_used}"
    assert workers_used <= {
        row[0] for row in store.conn.execute("SELECT id FROM workers WHERE stopped_at IS NOT NULL")
    }
    assert_sound(store)


# --------------------------------------------------------------------------- bad media


def test_bad_media_is_refused_or_failed_with_a_readable_reason(tmp_path: Path) -> None:
    appliance = make_appliance(tmp_path, media={"max_upload_bytes": 1024**3})
    store = appliance.open_store()
    try:
        _check_bad_media(tmp_path, appliance, store)
    finally:
        store.close()


def _check_bad_media(tmp_path: Path, appliance: Appliance, store: Store) -> None:
    interview_id = demo_interview(store)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good1 = write_wav(inputs / "good1.wav", 1.0)
    # Noise behind an MPEG audio frame sync passes the door (its first bytes announce audio)
    # and is failed by the worker; noise that announces nothing is refused at the door below.
    noise = inputs / "noise.wav"
    noise.write_bytes(b"\xff\xfb" + np.random.default_rng(1).bytes(64 * 1024))
    shapeless = inputs / "shapeless.wav"
    shapeless.write_bytes(np.random.default_rng(2).bytes(64 * 1024))
    mp4 = write_mp4(inputs / "clip.mp4")
    truncated = inputs / "truncated.mp4"
    truncated.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    good2 = write_wav(inputs / "good2.wav", 1.5, freq=660.0)
    hostile = write_wav(inputs / "hostile.wav", 0.5)

    ids = {
        name: ingest(appliance, store, interview_id, path, filename)
        for name, path, filename in [
            ("good1", good1, "good1.wav"),
            ("noise", noise, "noise.wav"),
            ("truncated", truncated, "truncated.mp4"),
            ("good2", good2, "good2.wav"),
            ("hostile", hostile, HOSTILE_NAME),
        ]
    }
    stored = spool_entries(appliance)
    assert len(stored) == 5
    assert all(SPOOL_NAME.fullmatch(name) for name in stored), stored

    # Refused at the door: nothing spooled, nothing recorded, nothing queued.
    empty = inputs / "empty.wav"
    empty.write_bytes(b"")
    sparse = inputs / "huge.wav"
    with open(sparse, "wb") as handle:
        handle.write(b"RIFF\xff\xff\xff\x7fWAVE")  # starts like a recording: refused by size
        handle.truncate(2 * 1024**3)
    for path, expected in [
        (empty, r"empty \(0 bytes\)"),
        (shapeless, "does not start like an audio or video recording"),
        (sparse, rf"larger than the configured limit of {1024**3} bytes"),
    ]:
        with pytest.raises(MediaRejectedError, match=expected):
            ingest(appliance, store, interview_id, path, path.name)
        assert spool_entries(appliance) == stored
        assert not [n for n in spool_entries(appliance) if n.startswith(PARTIAL_PREFIX)]
        assert recording_count(store) == 5
        assert job_count(store) == 5
    sparse.unlink()

    worker = WorkerProcess(appliance, tmp_path / "worker.log", "--exit-when-idle")
    try:
        assert worker.wait(120) == 0, worker.output()
    finally:
        worker.close()

    jobs = {name: store.jobs.get(done.job.id) for name, done in ids.items()}
    for name in ("good1", "good2", "hostile"):
        assert (jobs[name].state, jobs[name].attempts) == ("succeeded", 1), jobs[name]
    durations = {
        name: (store.recordings.get(ids[name].recording.id).media_info or {}).get("duration_s")
        for name in ("good1", "good2", "hostile")
    }
    assert durations == pytest.approx({"good1": 1.0, "good2": 1.5, "hostile": 0.5}, abs=0.01)

    noisy = jobs["noise"]
    assert (noisy.state, noisy.attempts, noisy.error_code) == ("failed", 1, "media_unrecognised")
    assert noisy.error == "the file is not a recognised audio or video format"
    cut = jobs["truncated"]
    assert (cut.state, cut.attempts, cut.error_code) == ("failed", 1, "media_corrupt")
    assert cut.error is not None
    assert cut.error.startswith("the media is damaged or truncated")
    assert "moov atom" in cut.error
    for failed in (noisy, cut):
        assert [run["outcome"] for run in store.jobs.runs(failed.id)] == ["failed"]
        assert failed.error is not None and failed.error.isprintable()
    assert sorted(report_job_ids(store)) == sorted(
        jobs[n].id for n in ("good1", "good2", "hostile")
    )

    shown = store.recordings.get(ids["hostile"].recording.id).display_name
    assert shown == "evil[31m.wav"
    assert "/" not in shown and "\\" not in shown
    assert not any(unicodedata.category(ch).startswith("C") for ch in shown)
    assert spool_entries(appliance) == stored
    assert not list(tmp_path.rglob("evil*"))
    assert not list(Path("/etc").glob("evil*"))
    assert_sound(store)


# --------------------------------------------------------------------------- retries


@dataclass
class OneJob:
    """An appliance with one queued `analyse` job and an in-process worker."""

    appliance: Appliance
    store: Store
    worker: Worker
    interview_id: int
    job_id: int


def _one_job(tmp_path: Path, **overrides: object) -> OneJob:
    appliance = make_appliance(tmp_path, **overrides)
    store = appliance.open_store()
    interview_id = demo_interview(store)
    clip = write_wav(tmp_path / "clip.wav", 0.3)
    job_id = ingest(appliance, store, interview_id, clip, "clip.wav").job.id
    return OneJob(appliance, store, Worker(appliance.config, store), interview_id, job_id)


def test_unexpected_error_is_retried_and_then_succeeds(tmp_path: Path) -> None:
    one = _one_job(
        tmp_path, worker={"pipeline": ["probe", "tests.support.steps_for_tests:FlakyStep"]}
    )
    appliance, store, worker, job_id = one.appliance, one.store, one.worker, one.job_id
    try:
        first = worker.run_once()
        assert first is not None
        assert (first.job_id, first.state, first.error_code) == (job_id, "queued", "internal")
        job = store.jobs.get(job_id)
        assert (job.state, job.attempts, job.error_code) == ("queued", 1, "internal")
        assert job.error == "RuntimeError: simulated disk hiccup"
        assert (appliance.data_dir / f"flaky-marker-{job_id}").exists()

        second = worker.run_once()
        assert second is not None and second.state == "succeeded"
        assert worker.run_once() is None
        job = store.jobs.get(job_id)
        assert (job.state, job.attempts) == ("succeeded", 2)
        runs = store.jobs.runs(job_id)
        assert [run["outcome"] for run in runs] == ["retry", "succeeded"]
        assert runs[0]["error"] == "RuntimeError: simulated disk hiccup"
        [report] = store.reports.for_interview(one.interview_id)
        assert report.job_id == job_id
        assert report.content["steps_run"] == ["probe", "flaky"]
        assert report.content["sections"]["flaky"] == {"recovered": True}
        assert_sound(store)
    finally:
        store.close()


def test_unexpected_error_gives_up_after_max_attempts(tmp_path: Path) -> None:
    one = _one_job(
        tmp_path,
        worker={
            "max_attempts": 2,
            "pipeline": ["probe", "tests.support.steps_for_tests:BrokenStep"],
        },
    )
    store, worker, job_id = one.store, one.worker, one.job_id
    try:
        first = worker.run_once()
        assert first is not None and (first.state, first.error_code) == ("queued", "internal")
        second = worker.run_once()
        assert second is not None and (second.state, second.error_code) == ("failed", "internal")
        assert worker.run_once() is None
        job = store.jobs.get(job_id)
        assert (job.state, job.attempts, job.max_attempts) == ("failed", 2, 2)
        assert job.error is not None
        assert job.error.startswith("gave up after 2 attempts")
        assert job.error.endswith("RuntimeError: simulated permanent breakage")
        assert job.finished_at is not None
        assert [run["outcome"] for run in store.jobs.runs(job_id)] == ["retry", "failed"]
        assert report_job_ids(store) == []
        assert store.interviews.get(one.interview_id).status == "failed"
    finally:
        store.close()


def test_retry_is_delayed_by_the_configured_backoff(tmp_path: Path) -> None:
    one = _one_job(
        tmp_path,
        worker={
            "backoff_base_s": 30.0,
            "backoff_max_s": 60.0,
            "pipeline": ["probe", "tests.support.steps_for_tests:FlakyStep"],
        },
    )
    store, worker, job_id = one.store, one.worker, one.job_id
    try:
        before = time.time()
        first = worker.run_once()
        assert first is not None and first.state == "queued"
        job = store.jobs.get(job_id)
        delay = from_stamp(job.run_after).timestamp() - before
        assert 30 * 0.9 - 1 <= delay <= 30 * 1.1 + 1
        assert worker.run_once() is None  # not ready yet: the backoff holds it back
        assert store.jobs.get(job_id).state == "queued"
    finally:
        store.close()


def test_permanent_step_failure_is_not_retried(tmp_path: Path) -> None:
    one = _one_job(
        tmp_path, worker={"pipeline": ["probe", "tests.support.steps_for_tests:AlwaysFailsStep"]}
    )
    store, worker, job_id = one.store, one.worker, one.job_id
    try:
        outcome = worker.run_once()
        assert outcome is not None
        assert (outcome.state, outcome.error_code) == ("failed", "model_missing")
        assert worker.run_once() is None
        job = store.jobs.get(job_id)
        assert (job.state, job.attempts, job.error_code) == ("failed", 1, "model_missing")
        assert job.error == "the speech model pack is not installed"
        assert [run["outcome"] for run in store.jobs.runs(job_id)] == ["failed"]
        assert report_job_ids(store) == []
    finally:
        store.close()


# --------------------------------------------------------------------------- bounded queue


def test_full_queue_refuses_new_recordings_without_leaving_anything(
    tmp_path: Path,
) -> None:
    appliance = make_appliance(tmp_path, worker={"max_queued_jobs": 3})
    store = appliance.open_store()
    try:
        interview_id = demo_interview(store)
        clip = write_wav(tmp_path / "clip.wav", 0.2)
        for n in range(3):
            ingest(appliance, store, interview_id, clip, f"clip-{n}.wav")
        stored = spool_entries(appliance)
        assert len(stored) == 3
        with pytest.raises(QueueFullError, match="queue is full"):
            ingest(appliance, store, interview_id, clip, "one-too-many.wav")
        assert spool_entries(appliance) == stored
        assert recording_count(store) == 3
        assert store.jobs.counts() == {"queued": 3}
        assert store.audit.first_broken_link() is None

        # Once the worker has caught up, the queue takes work again.
        assert Worker(appliance.config, store).run_once() is not None
        ingest(appliance, store, interview_id, clip, "now-fits.wav")
        assert store.jobs.counts() == {"queued": 3, "succeeded": 1}
    finally:
        store.close()
