"""The box itself: its health check and signed A/B updates with rollback (docs/updates.md)."""
