"""Vision backends (face presence, pose, gaze, smile), their per-answer summary, and affect."""
