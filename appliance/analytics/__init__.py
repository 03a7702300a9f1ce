"""Hiring analytics: what the hiring history and the outcomes after hire say about the box's
scores (aggregates only)."""
