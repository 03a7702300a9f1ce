"""No library may phone home from the box: telemetry and hub look-ups are switched off before
any engine is imported.

OpenVINO's model-conversion tools import `openvino_telemetry` whenever `openvino` is imported;
that package writes a client id under `$HOME/intel` (in the container, `$HOME` is the data
volume) and sends usage events to an analytics host. OpenVINO falls back to its own no-op stub
when the package cannot be imported, so it is made unimportable here. Hugging Face libraries
(which faster-whisper loads) read their offline and telemetry switches from the environment.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

# Modules that would report usage if imported; None in sys.modules makes `import` fail.
TELEMETRY_MODULES = ("openvino_telemetry",)
# Environment switches read by libraries when they are imported.
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def forbid_library_telemetry() -> None:
    """Make telemetry modules unimportable and set the offline switches (idempotent)."""
    for name in TELEMETRY_MODULES:
        if sys.modules.get(name) is not None:
            # Imported before us (by code that bypassed `inference`): it cannot be undone here.
            logger.warning("%s was imported before telemetry could be switched off", name)
            continue
        sys.modules[name] = None  # type: ignore[assignment]
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ[key] = value
