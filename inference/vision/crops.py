"""Rotated square crops: the regions of interest the face mesh and iris models look at."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from inference.interfaces import Frame

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Roi:
    """A square region of the image: centre and side in pixels, `angle` (radians) of its x axis."""

    cx: float
    cy: float
    size: float
    angle: float = 0.0
    flip: bool = False  # mirror the crop horizontally (the iris model wants one eye's shape)

    def matrix(self, out_size: int) -> npt.NDArray[np.float64]:
        """The 2 x 3 affine map from crop pixels (0..out_size) to image pixels."""
        scale = self.size / out_size
        cos, sin = math.cos(self.angle) * scale, math.sin(self.angle) * scale
        sx = -1.0 if self.flip else 1.0
        half = out_size / 2.0
        # image = c + R * S * (u - half, v - half), with u mirrored when flipped.
        return np.array(
            [
                [cos * sx, -sin, self.cx - (cos * sx * half) + sin * half],
                [sin * sx, cos, self.cy - (sin * sx * half) - cos * half],
            ],
            dtype=np.float64,
        )

    def crop(self, image: Frame, out_size: int) -> Frame:
        """The region resampled to `out_size` x `out_size` (outside the image is black)."""
        warped = cv2.warpAffine(
            image,
            self.matrix(out_size),
            (out_size, out_size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        return np.asarray(warped, dtype=np.uint8)

    def to_image(self, points: FloatArray, out_size: int) -> FloatArray:
        """Map N x 2 (or N x 3, z scaled like x) crop coordinates back to image pixels."""
        m = self.matrix(out_size)
        xy = points[:, :2].astype(np.float64) @ m[:, :2].T + m[:, 2]
        if points.shape[1] == 2:
            return xy.astype(np.float32)
        z = points[:, 2:3].astype(np.float64) * (self.size / out_size)
        return np.hstack([xy, z]).astype(np.float32)


def roi_between(
    start: tuple[float, float],
    end: tuple[float, float],
    centre: tuple[float, float],
    size: float,
    *,
    flip: bool = False,
) -> Roi:
    """A square of side `size` around `centre`, turned so its x axis runs from start to end."""
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    return Roi(centre[0], centre[1], size, angle, flip)
