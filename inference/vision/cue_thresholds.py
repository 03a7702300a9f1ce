"""Every threshold of the visual cues, in one place, with the figures that set it.

They were set on the *dev* split of the labelled faces of tests/data/faces/labels.csv (the
frames themselves live under ../shared/data/faces, see LABELS.md there:
125 faces of 34 people; the 225 faces of 29 other people in the *test* split were never used to
choose a number) by `python -m benchmarks.calibrate_visual_cues`, which prints the figures
quoted here; docs/visual-cues.md has the held-out results. Every number below comes from the
same rule as when the cues were first calibrated, re-applied after the Yale Face Database
frames (research-only licence) were taken out of the set and openly licensed faces put in.
(The smile's switch to the head's 3-D frame followed a failure seen on an earlier test split;
its thresholds still come from dev, and that page also gives a fresh check of it.)
Each cue's score is a 0..1 ramp centred on its threshold, so a frame counts as showing the cue
from a score of 0.5.

All lengths are ratios (over the eye's own width, or over the outer eye-corner distance), so
they hold at any face size.
"""

from __future__ import annotations

# Where a score counts as "yes" (summary shares, `look` output): the ramps below are centred.
SMILE_THRESHOLD = 0.5
CLOSED_THRESHOLD = 0.5

# --- eyes closed ---------------------------------------------------------------------------
# Height of the upper lid above the line joining the eye's corners, over the eye's width, from
# the iris model's 71-point eye contour (both eyes averaged). The face mesh's own lid gap does
# not close (0.17-0.30 on shut eyes against 0.21-0.40 open on dev), and the lid gap of either
# model also shrinks in a broad smile when the cheeks push the lower lid up; the upper lid
# only comes down when the eye shuts.
# Dev (25 shut, 98 open): shut eyes median 0.086 (95th percentile 0.134, highest 0.135), open
# eyes median 0.180 (5th percentile 0.144, lowest 0.138). Rule: of the limits 0.08, 0.09 ...
# 0.18, the one that maximises the smaller of precision and recall on dev: below 0.13 -> shut,
# precision 1.00, recall 0.92 (below 0.14: 0.89 and 1.00). The same limit as the first
# calibration (dev precision 0.90, recall 0.93 then, on a dev split with Yale faces).
EYE_SHUT_LID_HEIGHT = 0.13
# Score 1 at 0.065 (a shut eye's height), 0 at 0.195 (a wide-open eye's).
EYE_CLOSURE_RAMP = 0.13

# --- smile ---------------------------------------------------------------------------------
# Two gates, both needed: the mouth widens (corner-to-corner over the outer eye-corner
# distance) and its corners are not below the upper lip's inner midpoint. Both are measured in
# the head's own 3-D frame (face_geometry._mouth), so that tilting the head back or bowing it
# does not move the corners in relation to the lip, and against the *upper* lip, which a
# speaking or gaping jaw does not move (the old lift, against the middle of the parted lips,
# rose with every open mouth).
# Dev (26 smiles, 91 non-smiles): smiles' width 0.574-0.746 (median 0.708; 5th percentile
# 0.633), non-smiles' 0.481-0.614 (median 0.540, 95th percentile 0.603). Rule: half-way between
# the closest of each, the widest non-smile (0.614, a GRID speaker mid-word) and the narrowest
# smile above it (0.633): 0.624. One slight posed smile (London 132, 0.574) lies below the
# widest non-smiles and is missed (dev recall 0.96, precision 1.00). Smiles' corner lift
# -0.002-0.037 (non-smiles' -0.048-0.022): a gate 0.01 below the lowest smile, -0.012, that
# rejects mouths stretched down and sideways (crying, grimacing) and leaves the widening to
# tell the rest. (First calibration, with Yale faces on dev: 0.638 and -0.004.)
SMILE_WIDTH = 0.624
SMILE_WIDTH_RAMP = 0.2  # width score 0 at 0.524 (a neutral mouth), 1 at 0.724 (a broad smile)
SMILE_CORNER_LIFT = -0.012
SMILE_LIFT_RAMP = 0.06
# A third gate, added after the held-out failures of the two above (stop 24: a man talking with
# a wide mouth and crying faces read as smiles; the frames themselves were not looked at again):
# the corners' height below the base of the nose, over the eye-corner span, in the head's frame.
# A smile lifts the corners toward the cheekbones; a dropped jaw pulls them down with the lower
# lip however wide the mouth is. Dev (26 smiles, 91 non-smiles): smiles 0.117-0.240 (median
# 0.155; 90th percentile 0.192), talking 0.234-0.310 (median 0.258), neutral 0.190-0.258
# (median 0.225). Dev has no wide-mouthed non-smile for this gate to reject (the width gate
# already rejects all 91), so the limit is set only so as to keep every dev smile, by the
# corner-lift gate's rule mirrored: 0.01 above the highest smile (0.240): 0.250.
SMILE_CORNER_DROP = 0.25
SMILE_DROP_RAMP = 0.06

# --- gaze at the camera --------------------------------------------------------------------
# The eye's rotation is the iris centre's offset from the centroid of the eye opening (the
# iris model's contour), not from the midpoint of the two corners: the opening arches above
# the corner line, so the corner midpoint read every frontal gaze 8.5 degrees upward (dev
# median at the first calibration), the centroid 5.1. Eyeball radius over half the opening's
# width (about 12 mm over 15 mm) turns the offset into an angle.
EYE_RADIUS_RATIO = 0.8
# What a face looking into the lens still reads (head pose + eyes), subtracted before the
# limits: the 97 dev frames labelled "at camera" read yaw median -0.38, pitch median 3.69
# (rule: the medians, to 0.1 degree; first calibration: 0.0 and 2.0).
GAZE_YAW_BIAS_DEG = -0.4
GAZE_PITCH_BIAS_DEG = 3.7
# Within these angles of the optical axis the person counts as looking at the camera: 2.5
# robust standard deviations (1.4826 x MAD) of the 97 dev "at camera" frames around the
# bias (yaw sd 2.80, pitch sd 6.67 degrees; first calibration 7.9 and 13.4). The code before
# these cues used 15 and 15 around no bias.
GAZE_YAW_LIMIT_DEG = 7.0
GAZE_PITCH_LIMIT_DEG = 16.7
