"""Whether a channel can send at all: a message on a channel nobody configured is dead before
it is written, and the person who asked for it must be told so, not that it is on its way."""

from __future__ import annotations

from appliance.platform.config import ApplianceConfig


def channel_ready(config: ApplianceConfig, channel: str) -> bool:
    """Whether `email` (an SMTP relay) or `sms` (a gateway) is configured to send."""
    settings = config.scheduling
    if channel == "email":
        return bool(settings.smtp_host)
    if channel == "sms":
        return bool(settings.sms_gateway_url)
    return channel == "in_app"


__all__ = ["channel_ready"]
