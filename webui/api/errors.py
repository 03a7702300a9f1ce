"""The one shape of every JSON error the appliance answers: {"error": {"code", "message", ...}}."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue


def json_error(status: int, code: str, message: str, **extra: Any) -> ResponseReturnValue:
    """A JSON error answer: a stable machine `code`, a readable `message`, optional details."""
    return jsonify({"error": {"code": code, "message": message, **extra}}), status
