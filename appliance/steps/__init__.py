"""Built-in analysis steps (importing this package registers them)."""

from appliance.steps.policy_gate import PolicyGateStep
from appliance.steps.probe import ProbeStep

__all__ = ["PolicyGateStep", "ProbeStep"]
