"""Whether the model packs the configuration needs are installed and verify (for `/readyz`).

Verifying hashes every file of a pack, so the answer is remembered for a few minutes per
process: a readiness probe every few seconds must not read gigabytes each time.
"""

from __future__ import annotations

import threading
import time

from appliance.engines.runtime import pack_dirs, pack_registry
from appliance.platform.config import ApplianceConfig

REMEMBER_S = 300.0
_lock = threading.Lock()
_last: dict[tuple[str, ...], tuple[float, list[str]]] = {}


def required_packs(config: ApplianceConfig) -> list[str]:
    """The packs analysis cannot start without: speech's fallback, the sentence encoder and,
    where the pipeline looks at video, the vision pack."""
    names = []
    fallback = config.inference.speech.get("*", "")
    if ":" in fallback:
        names.append(fallback.split(":", 1)[1])
    if "score" in config.worker.pipeline:
        names.append(config.inference.text_pack)
    if "visual_cues" in config.worker.pipeline:
        names.append(config.inference.vision_pack)
    return sorted(set(names))


def pack_problems(config: ApplianceConfig) -> list[str]:
    """Why a required pack is not usable (empty: every one verifies)."""
    from inference.packs import PackError

    names = required_packs(config)
    key = (*names, "|", *(str(folder) for folder in pack_dirs(config)))
    now = time.monotonic()
    with _lock:
        cached = _last.get(key)
        if cached is not None and now - cached[0] < REMEMBER_S:
            return list(cached[1])
    registry = pack_registry(config)
    problems = []
    for name in names:
        try:
            registry.load(name)
        except PackError as exc:
            problems.append(f"model pack {name}: {exc}")
    with _lock:
        _last[key] = (now, problems)
    return problems


__all__ = ["pack_problems", "required_packs"]
