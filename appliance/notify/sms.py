"""SMS through an on-premises HTTP gateway: one POST of JSON, a bearer token, and the message's
Idempotency-Key (its Message-ID), over http.client so the hand-over moment is exact."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from appliance.notify.errors import InDoubtError, PermanentSendError, TransientSendError
from appliance.notify.secrets import read_secret
from appliance.platform.config import SchedulingConfig

MAX_SMS_CHARS = 640  # four concatenated parts


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """A connection to the gateway and the request path; PermanentSendError for a bad URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentSendError("the SMS gateway URL must be http:// or https://")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        ), path
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), path


def send_sms(
    settings: SchedulingConfig,
    *,
    message_id: str,
    to: str,
    text: str,
    before_handover: Callable[[], None],
) -> None:
    """Post one SMS to the gateway; raises TransientSendError, PermanentSendError or
    InDoubtError like the e-mail sender."""
    if not settings.sms_gateway_url:
        raise PermanentSendError("no SMS gateway is configured")
    if not to:
        raise PermanentSendError("the recipient has no phone number")
    headers = {"Content-Type": "application/json", "Idempotency-Key": message_id}
    if settings.sms_gateway_token_file is not None:
        headers["Authorization"] = f"Bearer {read_secret(settings.sms_gateway_token_file)}"
    body = json.dumps({"to": to, "text": text[:MAX_SMS_CHARS], "message_id": message_id})
    connection, path = _connection(settings.sms_gateway_url, settings.sms_timeout_s)
    try:
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as exc:
            # Nothing was sent: safe to try again later.
            raise TransientSendError(
                f"the gateway cannot be reached ({type(exc).__name__})"
            ) from None
        before_handover()
        try:
            connection.request("POST", path, body=body.encode("utf-8"), headers=headers)
            answer = connection.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors
            raise InDoubtError(f"no answer from the gateway ({type(exc).__name__})") from None
    finally:
        connection.close()
    # The gateway answered: definite. 408 and 429 ask to come back, other 4xx will not change.
    if 200 <= answer.status < 300:
        return
    if 400 <= answer.status < 500 and answer.status not in (408, 429):
        raise PermanentSendError(f"the gateway refused the message ({answer.status})")
    raise TransientSendError(f"the gateway answered {answer.status}")
