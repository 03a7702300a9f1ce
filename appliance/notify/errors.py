"""How a send attempt can fail, which decides what the outbox does next."""

from __future__ import annotations

from appliance.platform.errors import ApplianceError


class SendError(ApplianceError):
    """A message was not sent."""

    exit_code = 24


class TransientSendError(SendError):
    """Not sent, and trying again later may work (relay down, 4xx, timeout before hand-over)."""


class PermanentSendError(SendError):
    """Not sent, and trying again will not help (5xx, address refused, channel not set up)."""


class InDoubtError(SendError):
    """The connection broke after the message was handed over: it may have been delivered."""
