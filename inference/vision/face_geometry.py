"""Cues from face-mesh and iris geometry: head pose, gaze toward the camera, eye closure, smile.

Every input is in image pixels (x right, y down) with the mesh's relative depth z (toward the
camera is negative, scaled like x), so the mesh points form a right-handed camera-space cloud.
The figures below are geometric observations; none of them names a feeling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inference.vision import cue_thresholds as cal

FloatArray = npt.NDArray[np.float32]

# Face-mesh landmark indices (the 468-point topology). "A" is the eye on the image's left
# (the person's right eye), "B" the one on the image's right.
EYE_A_CORNERS = (33, 133)  # outer, inner
EYE_B_CORNERS = (362, 263)  # inner, outer
FOREHEAD, CHIN = 10, 152
NOSE_BOTTOM = 2  # under the nose tip: rigid, unlike the chin
MOUTH_CORNERS = (61, 291)
LIP_INNER = (13, 14)  # upper, lower

# The iris model's eye contour (71 points): the first 16 trace the opening, 0 and 8 being the
# corners, 1-7 the lower lid and 9-15 the upper lid; 10-14 are the upper lid's middle stretch.
CONTOUR_OPENING = 16
CONTOUR_CORNERS = (0, 8)
CONTOUR_UPPER_LID = (10, 11, 12, 13, 14)


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees: yaw + toward the person's left, pitch + up, roll + clockwise."""

    yaw: float
    pitch: float
    roll: float


def _unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-9 else v


def head_pose(mesh: FloatArray) -> HeadPose:
    """Yaw, pitch and roll from the mesh's own axes (eye line and forehead-to-chin line)."""
    pts = mesh.astype(np.float64)
    ex = _unit(pts[EYE_B_CORNERS[1]] - pts[EYE_A_CORNERS[0]])
    down = pts[CHIN] - pts[FOREHEAD]
    ey = _unit(down - np.dot(down, ex) * ex)
    # ex x ey points into the scene for a face looking at the camera; forward is its opposite.
    # (Written out: np.cross costs more than the rest of the function on 3-vectors.)
    forward = -np.array(
        [
            ex[1] * ey[2] - ex[2] * ey[1],
            ex[2] * ey[0] - ex[0] * ey[2],
            ex[0] * ey[1] - ex[1] * ey[0],
        ]
    )
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    return HeadPose(yaw, pitch, roll)


def _ramp(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _eye_frame(
    contour: FloatArray,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """Centroid of the opening, unit axis (image-left to image-right corner), half width."""
    pts = contour[:CONTOUR_OPENING, :2].astype(np.float64)
    a, b = pts[CONTOUR_CORNERS[0]], pts[CONTOUR_CORNERS[1]]
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    return pts.mean(axis=0), _unit(right - left), float(np.linalg.norm(right - left)) / 2.0


def eye_rotation(iris_centre: npt.NDArray[np.float64], contour: FloatArray) -> tuple[float, float]:
    """(yaw, pitch) in degrees of one eye within its socket, from its iris centre."""
    centre, axis, half = _eye_frame(contour)
    if half < 1e-6:
        return 0.0, 0.0
    normal = np.array([-axis[1], axis[0]])  # points down the image for an upright face
    offset = iris_centre[:2] - centre
    h = float(np.dot(offset, axis)) / half
    v = float(np.dot(offset, normal)) / half
    ratio = cal.EYE_RADIUS_RATIO
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, h / ratio))))
    pitch = -math.degrees(math.asin(max(-1.0, min(1.0, v / ratio))))
    return yaw, pitch


def gaze_angles(pose: HeadPose, eyes: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Yaw and pitch of the line of sight from the camera's axis, less the calibrated bias."""
    eye_yaw = sum(e[0] for e in eyes) / len(eyes) if eyes else 0.0
    eye_pitch = sum(e[1] for e in eyes) / len(eyes) if eyes else 0.0
    return (
        pose.yaw + eye_yaw - cal.GAZE_YAW_BIAS_DEG,
        pose.pitch + eye_pitch - cal.GAZE_PITCH_BIAS_DEG,
    )


def gaze_at_camera(
    pose: HeadPose, eyes: Sequence[tuple[float, float]]
) -> tuple[bool, float, float]:
    """Whether head and eyes together point at the camera; also the combined yaw and pitch."""
    yaw, pitch = gaze_angles(pose, eyes)
    looking = abs(yaw) <= cal.GAZE_YAW_LIMIT_DEG and abs(pitch) <= cal.GAZE_PITCH_LIMIT_DEG
    return looking, yaw, pitch


def upper_lid_height(contours: Sequence[FloatArray]) -> float | None:
    """Upper lid's height above the corner line over the eye's width, both eyes averaged."""
    heights = []
    for contour in contours:
        pts = contour[:CONTOUR_OPENING, :2].astype(np.float64)
        a, b = pts[CONTOUR_CORNERS[0]], pts[CONTOUR_CORNERS[1]]
        width = float(np.linalg.norm(b - a))
        if width < 1e-6:
            continue
        axis = (b - a) / width
        normal = np.array([-axis[1], axis[0]])
        # Either eye's corners may come in either order (the right eye is mirrored for the
        # model), so the side of the line is dropped: a lid never crosses to the other side.
        lid = [float(np.dot(pts[k] - a, normal)) for k in CONTOUR_UPPER_LID]
        heights.append(abs(sum(lid) / len(lid)) / width)
    return sum(heights) / len(heights) if heights else None


def eye_closure(contours: Sequence[FloatArray]) -> float:
    """0 (open) .. 1 (shut) from the upper lids' height; 0.5 is the calibrated threshold."""
    height = upper_lid_height(contours)
    if height is None:
        return 0.0
    return _ramp(0.5 + (cal.EYE_SHUT_LID_HEIGHT - height) / cal.EYE_CLOSURE_RAMP)


def _mouth(mesh: FloatArray) -> dict[str, float]:
    """Mouth width, corner lift and opening over the eye-corner span, in the head's own frame.

    The mesh is 3-D: measured along the head's own axes, the corners' height does not change
    when the head tilts back or bows, as it does in the picture (the corners sit deeper than
    the lips' middle, so tilting the head back drops them below the upper lip in projection).
    The axes come from rigid points (eye corners, forehead, under the nose): the chin moves
    with the jaw.
    """
    pts = mesh.astype(np.float64)
    across = pts[EYE_B_CORNERS[1]] - pts[EYE_A_CORNERS[0]]
    eye_span = float(np.linalg.norm(across))
    if eye_span < 1e-6:
        return {"mouth_width": 0.0, "corner_lift": 0.0, "mouth_open": 0.0, "corner_drop": 0.0}
    ex = across / eye_span
    down = pts[NOSE_BOTTOM] - pts[FOREHEAD]
    ey = _unit(down - np.dot(down, ex) * ex)  # toward the chin, in the face's plane
    corners = (pts[MOUTH_CORNERS[0]] + pts[MOUTH_CORNERS[1]]) / 2.0
    return {
        "mouth_width": float(np.linalg.norm(pts[MOUTH_CORNERS[1]] - pts[MOUTH_CORNERS[0]]))
        / eye_span,
        # Positive when the corners sit above the upper lip's inner midpoint.
        "corner_lift": float(np.dot(pts[LIP_INNER[0]] - corners, ey)) / eye_span,
        "mouth_open": float(np.linalg.norm(pts[LIP_INNER[1]] - pts[LIP_INNER[0]])) / eye_span,
        # How far the corners sit below the base of the nose, which no expression moves: a
        # smile pulls them up toward the cheekbones, while a dropped jaw (speech, a gaping or
        # crying mouth) pulls them down, even when the mouth is as wide as a smile.
        "corner_drop": float(np.dot(corners - pts[NOSE_BOTTOM], ey)) / eye_span,
    }


def smile_intensity(mesh: FloatArray) -> float:
    """0 .. 1: the smallest of the widening, corner-lift and corner-height scores (0.5 = limit)."""
    mouth = _mouth(mesh)
    widening = 0.5 + (mouth["mouth_width"] - cal.SMILE_WIDTH) / cal.SMILE_WIDTH_RAMP
    lifting = 0.5 + (mouth["corner_lift"] - cal.SMILE_CORNER_LIFT) / cal.SMILE_LIFT_RAMP
    raised = 0.5 + (cal.SMILE_CORNER_DROP - mouth["corner_drop"]) / cal.SMILE_DROP_RAMP
    return _ramp(min(widening, lifting, raised))


def measurements(mesh: FloatArray, contours: Sequence[FloatArray] = ()) -> dict[str, float]:
    """The raw ratios behind eye closure and smile (for calibration and tests)."""
    found = dict(_mouth(mesh))
    height = upper_lid_height(contours)
    if height is not None:
        found["upper_lid_height"] = height
    return found
