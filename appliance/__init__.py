"""The appliance core: config, encrypted store, jobs, pipeline (no Flask, no inference engines)."""

__version__ = "0.1.0"
