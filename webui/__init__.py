"""The local web UI: a thin Flask adapter over the appliance core."""

from webui.app import create_app

__all__ = ["create_app"]
