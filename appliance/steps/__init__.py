"""Built-in analysis steps (importing this package registers them)."""

from appliance.steps.probe import ProbeStep

__all__ = ["ProbeStep"]
