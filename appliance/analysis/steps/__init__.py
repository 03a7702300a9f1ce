"""Built-in analysis steps (importing this package registers them) and building a pipeline
of registered or plugin steps by name."""

import importlib

from appliance.analysis.pipeline import STEPS, AnalysisStep
from appliance.analysis.steps.affect import AffectStep
from appliance.analysis.steps.delivery import DeliveryStep
from appliance.analysis.steps.policy_gate import PolicyGateStep
from appliance.analysis.steps.probe import ProbeStep
from appliance.analysis.steps.score import ScoreStep
from appliance.analysis.steps.transcribe import TranscribeStep
from appliance.analysis.steps.visual_cues import VisualCuesStep
from appliance.platform.errors import ConfigError


def resolve_step(name: str) -> type[AnalysisStep]:
    """A step class by registered name, or by `package.module:Class` for plugins."""
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"worker.pipeline: cannot load step {name!r}: {exc}") from exc
        if not (isinstance(found, type) and issubclass(found, AnalysisStep)):
            raise ConfigError(f"worker.pipeline: {name!r} is not an AnalysisStep")
        return found
    if name not in STEPS:
        raise ConfigError(
            f"worker.pipeline: unknown step {name!r} (known: {', '.join(sorted(STEPS))})"
        )
    return STEPS[name]


def build_pipeline(names: list[str]) -> list[AnalysisStep]:
    """Instantiate the configured steps in order."""
    return [resolve_step(name)() for name in names]


__all__ = [
    "AffectStep",
    "DeliveryStep",
    "PolicyGateStep",
    "ProbeStep",
    "ScoreStep",
    "TranscribeStep",
    "VisualCuesStep",
    "build_pipeline",
    "resolve_step",
]
