"""The one guard on JSON request bodies: size and depth are checked before anything parses them.

Installed as the app's JSON provider, so `request.get_json()` in every view and the API's own
strict parser go through it; a body over the limits raises `JsonLimitError` (answered 422),
never a RecursionError deep inside the parser.
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

from appliance.platform.jsonlimits import check_json

# The largest body a view takes: a 2 MiB dictionary file as base64 (about 2.7 MiB) with room.
MAX_JSON_BODY_BYTES = 4 << 20


def check_body(raw: bytes | str) -> None:
    """JsonLimitError when a request body is too large or nested too deep."""
    check_json(raw, max_bytes=MAX_JSON_BODY_BYTES, what="the JSON body")


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with the appliance's limits on what it parses."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text after checking its size and depth."""
        check_body(s)
        return super().loads(s, **kwargs)
