"""Platform: configuration, paths, clock, errors, locks, scratch space and the process runtime."""
