"""On-box inference: media decoding, speech, vision, model packs (no database access)."""

from inference.offline import forbid_library_telemetry

# Before any engine below is imported (they import `inference` first): see inference/offline.
forbid_library_telemetry()
