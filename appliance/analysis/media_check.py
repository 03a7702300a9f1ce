"""The production steps on a plain media file, for an operator checking a model pack on their
own recordings (`python -m appliance transcribe|look FILE`). No candidate, store or policy is
involved: the file is the operator's, read in place, and nothing is written anywhere."""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

from appliance.analysis.pipeline import ReportDraft, StepContext, StepFailure
from appliance.analysis.steps.probe import ProbeStep
from appliance.analysis.steps.transcribe import TranscribeStep
from appliance.analysis.steps.visual_cues import (
    MAX_FRAME_WIDTH,
    analyse_video,
    has_video,
    vision_backend,
)
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError
from appliance.store.recordings import Recording
from inference.frames import FrameSampling
from inference.media import MediaError
from inference.speech.error_rates import error_rate
from inference.vision.summary import summarise

# Exit status when the file cannot be checked (unreadable media, no model pack).
EXIT_MEDIA_CHECK = 47


class MediaCheckError(ApplianceError):
    """The file could not be checked; the message says why, as an upload would."""

    exit_code = EXIT_MEDIA_CHECK


def _context(config: ApplianceConfig, path: Path, language: str | None) -> StepContext:
    if not path.is_file():
        raise MediaCheckError(f"{path}: no such file")
    size = path.stat().st_size
    recording = Recording(0, 0, 0, "check", path.name, "", size, "", b"", None, "")
    return StepContext(
        job_id=0,
        recording=recording,
        region="",
        language=language or "",
        config=config,
        open_media=lambda: io.FileIO(path, "rb"),
        scratch_dir=path.parent,
        report_progress=lambda fraction, step: None,
    )


def _probed(ctx: StepContext) -> ReportDraft:
    try:
        return ProbeStep().run(ctx, ReportDraft())
    except StepFailure as exc:
        raise MediaCheckError(exc.message) from None


# A reference transcript is text a person typed: a few pages at most.
MAX_REFERENCE_BYTES = 1_000_000


def read_reference(path: Path) -> str:
    """A reference transcript's text (UTF-8), or a MediaCheckError saying what is wrong."""
    try:
        if path.stat().st_size > MAX_REFERENCE_BYTES:
            raise MediaCheckError(f"{path.name}: a reference transcript is at most 1 MB of text")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MediaCheckError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise MediaCheckError(f"{path.name}: the reference is not UTF-8 text") from None
    except OSError as exc:
        raise MediaCheckError(f"{path.name}: cannot be read ({exc.strerror})") from None
    if not text.strip():
        raise MediaCheckError(f"{path.name}: the reference transcript is empty")
    return text


def transcribe_file(
    config: ApplianceConfig, path: Path, language: str | None, reference: str | None = None
) -> dict[str, Any]:
    """The transcribe step on `path`: transcript (words with times, language) and translation;
    with a `reference` text, the error rate of the transcript against it."""
    ctx = _context(config, path, language)
    draft = _probed(ctx)
    try:
        draft = TranscribeStep().run(ctx, draft)
    except StepFailure as exc:
        raise MediaCheckError(exc.message) from None
    transcript = draft.sections.get("transcript")
    result: dict[str, Any] = {
        "file": path.name,
        "duration_s": (draft.media_info or {}).get("duration_s"),
        "transcript": transcript,
        "translation": draft.sections.get("translation"),
        "notes": draft.notes,
    }
    if reference is not None:
        result["error_rate"] = _error_rate(reference, transcript, language)
    return result


def _error_rate(
    reference: str, transcript: dict[str, Any] | None, language: str | None
) -> dict[str, Any]:
    # The reference is in the language the operator expects; without one, the heard language.
    spoken = language or (transcript or {}).get("language") or ""
    heard = " ".join(s["text"] for s in (transcript or {}).get("segments", []))
    try:
        found = error_rate(reference, heard, spoken)
    except ValueError as exc:
        raise MediaCheckError(str(exc)) from None
    return {
        **asdict(found),
        "value": round(found.value, 4),
        "language": spoken,
        "unit": found.unit,
    }


def look_at_file(config: ApplianceConfig, path: Path) -> dict[str, Any]:
    """The visual-cues analysis on `path`: every sampled frame's cues, then the summary."""
    ctx = _context(config, path, None)
    draft = _probed(ctx)
    if has_video(draft) is False:
        raise MediaCheckError(f"{path.name}: the file has no video")
    sampling = FrameSampling(fps=config.inference.frame_rate, max_width=MAX_FRAME_WIDTH)
    backend = vision_backend(config)
    duration = (draft.media_info or {}).get("duration_s")
    try:
        frames = analyse_video(ctx, backend, sampling, duration_s=duration, progress_name="look")
    except MediaError as exc:
        raise MediaCheckError(f"{path.name}: {exc}") from None
    interval = 1.0 / sampling.fps
    gaze = getattr(backend, "reports_gaze", None)
    return {
        "file": path.name,
        "duration_s": duration,
        "backend": backend.type_key,
        "frame_rate": sampling.fps,
        "frames": [
            {
                "t": round(frame.t, 3),
                "faces": [
                    {
                        "box": [round(v, 3) for v in face.box],
                        "gaze_at_camera": face.gaze_at_camera,
                        "smile": _rounded(face.smile),
                        "eyes_closed": _rounded(face.eye_closure),
                        "yaw": _rounded(face.yaw, 1),
                        "pitch": _rounded(face.pitch, 1),
                        "roll": _rounded(face.roll, 1),
                    }
                    for face in frame.faces
                ],
            }
            for frame in frames
        ],
        "summary": summarise(frames, interval, reports_gaze=gaze, duration_s=duration).to_dict(),
    }


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
