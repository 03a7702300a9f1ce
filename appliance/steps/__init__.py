"""Built-in analysis steps (importing this package registers them)."""

from appliance.steps.affect import AffectStep
from appliance.steps.delivery import DeliveryStep
from appliance.steps.policy_gate import PolicyGateStep
from appliance.steps.probe import ProbeStep
from appliance.steps.score import ScoreStep
from appliance.steps.transcribe import TranscribeStep
from appliance.steps.visual_cues import VisualCuesStep

__all__ = [
    "AffectStep",
    "DeliveryStep",
    "PolicyGateStep",
    "ProbeStep",
    "ScoreStep",
    "TranscribeStep",
    "VisualCuesStep",
]
