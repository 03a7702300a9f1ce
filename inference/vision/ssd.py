"""Face detection post-processing for the BlazeFace short-range model: anchors, decoding, NMS.

The model (`face_detection_short_range.tflite`, 128 x 128 input) predicts, for each of 896
fixed anchors, a box offset, six keypoints and one score logit. The anchors follow the SSD
layout the model was trained with: four feature layers with strides 8, 16, 16, 16; two anchors
per cell on every layer, centred in the cell, all of unit size (the regressor carries the
size). Layers sharing a stride share a grid, so the 16-stride layers give 6 anchors per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2
KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear, left ear
SCORE_CLIP = 100.0  # logits are clipped like the reference calculator before the sigmoid

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Detection:
    """One detected face in normalised image coordinates (0..1 of width and height)."""

    xmin: float
    ymin: float
    width: float
    height: float
    score: float
    keypoints: tuple[tuple[float, float], ...]


def make_anchors(input_size: int = INPUT_SIZE) -> FloatArray:
    """Anchor centres (x, y) in 0..1, one row per anchor, in the model's output order."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(STRIDES):
        stride = STRIDES[layer]
        per_cell = 0
        # Consecutive layers with the same stride are merged onto one grid.
        while layer < len(STRIDES) and STRIDES[layer] == stride:
            per_cell += ANCHORS_PER_LAYER
            layer += 1
        cells = int(np.ceil(input_size / stride))
        for y in range(cells):
            for x in range(cells):
                centre = ((x + 0.5) / cells, (y + 0.5) / cells)
                centres.extend([centre] * per_cell)
    return np.asarray(centres, dtype=np.float32)


ANCHORS = make_anchors()


@dataclass(frozen=True)
class Candidates:
    """Detections as arrays (boxes N x 4 as xmin, ymin, w, h; scores N; keypoints N x 6 x 2)."""

    boxes: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]
    keypoints: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Candidates:
        """The rows picked by a boolean mask or an index array."""
        return Candidates(self.boxes[mask], self.scores[mask], self.keypoints[mask])

    def detections(self) -> list[Detection]:
        """One `Detection` per row."""
        return [
            Detection(
                float(b[0]),
                float(b[1]),
                float(b[2]),
                float(b[3]),
                float(score),
                tuple((float(x), float(y)) for x, y in points),
            )
            for b, score, points in zip(self.boxes, self.scores, self.keypoints, strict=True)
        ]


def no_candidates() -> Candidates:
    """An empty set of candidates."""
    return Candidates(np.zeros((0, 4)), np.zeros(0), np.zeros((0, KEYPOINTS, 2)))


def concat(parts: list[Candidates]) -> Candidates:
    """All candidates of several regions in one set."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return no_candidates()
    return Candidates(
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.keypoints for p in parts]),
    )


def decode_candidates(
    regressors: FloatArray,
    logits: FloatArray,
    *,
    min_score: float = 0.5,
    anchors: FloatArray = ANCHORS,
    input_size: int = INPUT_SIZE,
) -> Candidates:
    """Candidates (in the model input's 0..1 coordinates) whose score reaches `min_score`."""
    raw = logits.reshape(-1)
    # Compare logits, not probabilities: the sigmoid is computed for the few that pass only.
    threshold = float(np.log(min_score / (1.0 - min_score))) if 0 < min_score < 1 else -np.inf
    keep = np.flatnonzero(raw >= threshold)
    if keep.size == 0:
        return no_candidates()
    clipped = np.clip(raw[keep].astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-clipped))
    values = regressors.reshape(-1, 4 + 2 * KEYPOINTS)[keep].astype(np.float64) / input_size
    centres = anchors[keep].astype(np.float64)
    wh = values[:, 2:4]
    corners = values[:, 0:2] + centres - wh / 2
    points = values[:, 4:].reshape(-1, KEYPOINTS, 2) + centres[:, None, :]
    return Candidates(np.hstack([corners, wh]), scores, points)


def decode(
    regressors: FloatArray,
    logits: FloatArray,
    *,
    min_score: float = 0.5,
    anchors: FloatArray = ANCHORS,
    input_size: int = INPUT_SIZE,
) -> list[Detection]:
    """Detections (in the model input's 0..1 coordinates) whose score reaches `min_score`."""
    return decode_candidates(
        regressors, logits, min_score=min_score, anchors=anchors, input_size=input_size
    ).detections()


def iou(a: Detection, b: Detection) -> float:
    """Intersection over union of two boxes."""
    first = np.array([[a.xmin, a.ymin, a.width, a.height]])
    second = np.array([[b.xmin, b.ymin, b.width, b.height]])
    return float(iou_with(first[0], second)[0])


def iou_with(
    box: npt.NDArray[np.float64], boxes: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Intersection over union of one box (xmin, ymin, w, h) with each of `boxes`."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def weighted_nms_candidates(found: Candidates, threshold: float = 0.3) -> Candidates:
    """Merge overlapping candidates: each cluster becomes the score-weighted mean of its boxes.

    Weighted (rather than plain) suppression steadies the box between frames: neighbouring
    anchors that all fire on one face vote for its position instead of one of them winning.
    """
    order = np.argsort(-found.scores, kind="stable")
    remaining = found.select(order)
    boxes, scores, points = [], [], []
    while len(remaining):
        hit = iou_with(remaining.boxes[0], remaining.boxes) > threshold
        hit[0] = True
        weights = remaining.scores[hit]
        total = float(weights.sum())
        boxes.append(weights @ remaining.boxes[hit] / total)
        points.append(np.tensordot(weights, remaining.keypoints[hit], axes=1) / total)
        scores.append(float(remaining.scores[0]))
        remaining = remaining.select(~hit)
    if not scores:
        return no_candidates()
    return Candidates(np.asarray(boxes), np.asarray(scores), np.asarray(points))


def weighted_nms(detections: list[Detection], threshold: float = 0.3) -> list[Detection]:
    """`weighted_nms_candidates` over a list of detections."""
    if not detections:
        return []
    found = Candidates(
        np.array([[d.xmin, d.ymin, d.width, d.height] for d in detections], dtype=np.float64),
        np.array([d.score for d in detections], dtype=np.float64),
        np.array([d.keypoints for d in detections], dtype=np.float64),
    )
    return weighted_nms_candidates(found, threshold).detections()
