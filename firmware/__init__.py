"""The box itself: health checks now; signed updates, A/B slots and rollback build on them."""
