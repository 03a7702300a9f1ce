"""Backups you can restore: consistent encrypted copies, verified, restored into a new data dir."""
