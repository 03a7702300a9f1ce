"""Per-answer summaries of frame cues: presence, looking at the camera, smiles, other people.

Everything here is arithmetic over `FrameCues` sampled at a fixed interval; no emotion label
is produced or implied. When a frame shows several faces the largest one is taken as the
candidate's (the person nearest the camera) for gaze and smile; the others only count toward
multiple-people events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from inference.interfaces import FaceCues, FrameCues

# The thresholds live with the cues' other calibrated numbers; re-exported for old callers.
from inference.vision.cue_thresholds import CLOSED_THRESHOLD as CLOSED_THRESHOLD
from inference.vision.cue_thresholds import SMILE_THRESHOLD as SMILE_THRESHOLD


@dataclass(frozen=True)
class PeopleEvent:
    """A stretch of time with more than one face in frame."""

    start: float
    end: float
    max_faces: int


@dataclass(frozen=True)
class CueSummary:
    """What the frames of one answer (or the whole recording) show, as shares of its frames."""

    start: float
    end: float
    frames: int
    face_visible_share: float
    looking_at_camera_share: float | None  # None where the backend cannot tell gaze
    longest_look_away_s: float | None
    smile_share: float | None
    eyes_closed_share: float | None
    multiple_people_events: list[PeopleEvent] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in a report section."""
        return asdict(self)


def main_face(cues: FrameCues) -> FaceCues | None:
    """The largest face of a frame (the person nearest the camera), or None."""
    if not cues.faces:
        return None
    return max(cues.faces, key=lambda f: f.box[2] * f.box[3])


def _share(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def summarise(
    frames: Sequence[FrameCues],
    interval_s: float,
    *,
    start: float | None = None,
    end: float | None = None,
    reports_gaze: bool | None = None,
    duration_s: float | None = None,
) -> CueSummary:
    """Summarise the frames whose time lies in [start, end) (all frames by default).

    `reports_gaze` says whether the backend can tell gaze at all; None guesses it from the
    frames (a backend that can, shown no face, then yields no looking share). Given the
    media's `duration_s`, no span reaches past its end (the last frame stands for less than a
    whole interval there).
    """
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    chosen = [f for f in frames if (start is None or f.t >= start) and (end is None or f.t < end)]
    lo = start if start is not None else (chosen[0].t if chosen else 0.0)
    hi = end if end is not None else (chosen[-1].t + interval_s if chosen else lo)
    if duration_s is not None:
        hi = min(hi, max(lo, duration_s))
    faces = [main_face(f) for f in chosen]
    visible = [f for f in faces if f is not None]

    gaze_known = (
        reports_gaze
        if reports_gaze is not None
        else any(f.gaze_at_camera is not None for f in visible)
    )
    looking_share: float | None = None
    longest: float | None = None
    if gaze_known:
        looking = [f is not None and f.gaze_at_camera is True for f in faces]
        looking_share = _share(sum(looking), len(chosen))
        longest = _longest_false_run(chosen, looking, interval_s)

    smiles = [f.smile for f in visible if f.smile is not None]
    closures = [f.eye_closure for f in visible if f.eye_closure is not None]
    return CueSummary(
        start=round(lo, 3),
        end=round(hi, 3),
        frames=len(chosen),
        face_visible_share=_share(len(visible), len(chosen)),
        looking_at_camera_share=looking_share,
        longest_look_away_s=longest,
        smile_share=_share(sum(s >= SMILE_THRESHOLD for s in smiles), len(smiles))
        if smiles
        else None,
        eyes_closed_share=_share(sum(c >= CLOSED_THRESHOLD for c in closures), len(closures))
        if closures
        else None,
        multiple_people_events=people_events(chosen, interval_s, duration_s=duration_s),
    )


def _longest_false_run(frames: Sequence[FrameCues], flags: list[bool], interval_s: float) -> float:
    """The longest time (seconds) covered by consecutive frames whose flag is False."""
    longest = 0.0
    run_start: float | None = None
    for cue, flag in zip(frames, flags, strict=True):
        if flag:
            run_start = None
            continue
        if run_start is None:
            run_start = cue.t
        longest = max(longest, cue.t + interval_s - run_start)
    return round(longest, 3)


def people_events(
    frames: Sequence[FrameCues], interval_s: float, *, duration_s: float | None = None
) -> list[PeopleEvent]:
    """Runs of consecutive frames with two or more faces, as time spans (within the media)."""
    limit = float("inf") if duration_s is None else duration_s
    events: list[PeopleEvent] = []
    run: list[FrameCues] = []
    for cue in [*frames, None]:
        if cue is not None and cue.face_count >= 2:
            run.append(cue)
            continue
        if run:
            events.append(
                PeopleEvent(
                    start=round(run[0].t, 3),
                    end=round(min(run[-1].t + interval_s, max(run[-1].t, limit)), 3),
                    max_faces=max(c.face_count for c in run),
                )
            )
            run = []
    return events


def summarise_answers(
    frames: Sequence[FrameCues],
    interval_s: float,
    windows: Sequence[tuple[str, float, float]],
    *,
    reports_gaze: bool | None = None,
    duration_s: float | None = None,
) -> dict[str, CueSummary]:
    """One summary per answer window `(label, start, end)`."""
    return {
        label: summarise(
            frames,
            interval_s,
            start=lo,
            end=hi,
            reports_gaze=reports_gaze,
            duration_s=duration_s,
        )
        for label, lo, hi in windows
    }
