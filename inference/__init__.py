"""On-box inference: media decoding, speech, vision, model packs (no database access)."""
