"""Competency scoring: STAR analysis with evidence spans, per-interview aggregation, live alerts."""

from appliance.scoring.aggregate import aggregate_interview
from appliance.scoring.live import live_alerts
from appliance.scoring.scorer import SCORER, score_recording

__all__ = ["SCORER", "aggregate_interview", "live_alerts", "score_recording"]
