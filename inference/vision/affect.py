"""The affect plugin: the `fer` expression classifier (FER2013, 7 classes, 64 x 64 grey).

Kept apart from the visual cues on purpose: it names expressions, which the cues never do, and
the region policy forbids it outright in places (the EU). Nothing here checks policy (the
inference package knows no candidates or regions); the core's `affect` step decides, before
this class is even constructed, and constructing it is the first time the model file is read.
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np
import openvino as ov

from inference.interfaces import Frame, InferenceError

logger = logging.getLogger(__name__)

MODEL_FILE = "emotion_model_quantized.tflite"
INPUT_SIZE = 64
# The classifier's output order (FER2013's label order).
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
BOX_MARGIN = 0.1  # the classifier was trained on loosely cropped faces


def face_crop(
    frame: Frame, box: tuple[float, float, float, float]
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The face (box as fractions x, y, w, h, with a margin) as the model's 64 x 64 grey picture:
    small enough to keep for every sampled frame while the video is decoded once."""
    h, w = frame.shape[:2]
    x, y, bw, bh = box
    x0 = int(max(0.0, (x - BOX_MARGIN * bw)) * w)
    y0 = int(max(0.0, (y - BOX_MARGIN * bh)) * h)
    x1 = int(min(1.0, x + bw * (1 + BOX_MARGIN)) * w)
    y1 = int(min(1.0, y + bh * (1 + BOX_MARGIN)) * h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise InferenceError("the face box is too small to classify")
    grey = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8)


def crop_input(crop: np.ndarray[Any, np.dtype[np.uint8]]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A `face_crop` as the model's grey -1..1 input tensor."""
    scaled = crop.astype(np.float32) * (2.0 / 255.0) - 1.0
    return scaled.reshape(1, INPUT_SIZE, INPUT_SIZE, 1)


class AffectClassifier:
    """Class probabilities of a face's expression, one face box at a time."""

    def __init__(self, pack: Any, *, device: str = "CPU") -> None:
        """Read and compile the pack's classifier (the only place its file is opened)."""
        core = ov.Core()
        try:
            model = core.read_model(str(pack.path(MODEL_FILE)))
            self.compiled = core.compile_model(model, device)
        except RuntimeError as exc:
            raise InferenceError(f"cannot load the expression classifier: {exc}") from exc
        self.request = self.compiled.create_infer_request()
        self.model_name = (
            f"{pack.manifest.name}@{pack.manifest.version}"
            if hasattr(pack, "manifest")
            else MODEL_FILE
        )

    def face_input(
        self, frame: Frame, box: tuple[float, float, float, float]
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The face (box as fractions x, y, w, h) as the model's grey -1..1 input."""
        return crop_input(face_crop(frame, box))

    def classify(self, frame: Frame, box: tuple[float, float, float, float]) -> dict[str, float]:
        """Probabilities per label for the face in `box` (they sum to 1)."""
        return self.classify_crop(face_crop(frame, box))

    def classify_crop(self, crop: np.ndarray[Any, np.dtype[np.uint8]]) -> dict[str, float]:
        """Probabilities per label for a face already cut by `face_crop`."""
        self.request.infer({0: crop_input(crop)})
        raw = np.array(self.request.output_tensors[0].data, dtype=np.float64).reshape(-1)
        if raw.min() < 0 or abs(raw.sum() - 1.0) > 1e-3:  # logits: make them probabilities
            raw = np.exp(raw - raw.max())
            raw /= raw.sum()
        return {label: round(float(p), 4) for label, p in zip(LABELS, raw, strict=True)}

    def close(self) -> None:
        """Drop the compiled model."""
        self.__dict__.pop("request", None)
        self.__dict__.pop("compiled", None)
