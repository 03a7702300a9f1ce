"""The worker's models: verified packs turned into backends, loaded once per process.

The core reaches inference only through the interfaces in `inference.interfaces`; which plugin
serves which language, and from which pack, is configuration (`config.inference`). Loading a
model is slow (seconds) and memory-hungry, so each backend is built on first use and kept for
the life of the process (the worker, or a live-assist process), keyed by its configuration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ConfigError
from inference.interfaces import SpeechBackend, TextEncoder, VisionBackend
from inference.packs import PackRegistry, VerifiedPack
from inference.registry import speech_backend_class, text_encoder_class, vision_backend_class

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_registries: dict[tuple[object, ...], PackRegistry] = {}
_speech: dict[tuple[object, ...], SpeechBackend] = {}
_vision: dict[tuple[object, ...], VisionBackend] = {}
_text: dict[tuple[object, ...], TextEncoder] = {}


def pack_dirs(config: ApplianceConfig) -> list[Path]:
    """Folders searched for packs: configured ones first, then the data directory's own."""
    return [*config.inference.pack_dirs, config.paths.packs]


def trusted_pack_keys(config: ApplianceConfig) -> list[str]:
    """Hex Ed25519 keys trusted to sign packs: configured ones plus this device's own key."""
    keys = [key.lower() for key in config.inference.trusted_pack_keys]
    device = config.paths.device_public_key
    if device.is_file():
        loaded = load_pem_public_key(device.read_bytes())
        if isinstance(loaded, Ed25519PublicKey):
            keys.append(loaded.public_bytes_raw().hex())
    return keys


def pack_registry(config: ApplianceConfig) -> PackRegistry:
    """The pack registry for this configuration (shared within the process)."""
    key = (
        tuple(str(p) for p in pack_dirs(config)),
        tuple(trusted_pack_keys(config)),
        config.inference.require_signed_packs,
    )
    with _lock:
        if key not in _registries:
            _registries[key] = PackRegistry(
                pack_dirs(config),
                trusted_keys=trusted_pack_keys(config),
                require_signed=config.inference.require_signed_packs,
            )
        return _registries[key]


def load_pack(
    config: ApplianceConfig, name: str, *, allowed_uses: Collection[str] | None = None
) -> VerifiedPack:
    """Verify and return one pack (use checked before any file is read)."""
    return pack_registry(config).load(name, allowed_uses=allowed_uses)


def speech_choice(config: ApplianceConfig, language: str) -> tuple[str, str]:
    """(backend, pack) configured for a language, falling back to `*`."""
    table = config.inference.speech
    base = language.split("-", 1)[0].lower() if language else ""
    spec = table.get(language) or table.get(base) or table.get("*")
    if not spec or ":" not in spec:
        raise ConfigError(
            f"inference.speech: no `backend:pack` for language {language!r} and no `*` fallback"
        )
    backend, _, pack = spec.partition(":")
    return backend, pack


def speech_backend_for(config: ApplianceConfig, language: str) -> SpeechBackend:
    """The speech backend serving `language`, built once per process."""
    backend_key, pack_name = speech_choice(config, language)
    key = (
        backend_key,
        pack_name,
        tuple(str(p) for p in pack_dirs(config)),
        config.inference.cpu_threads,
        repr(sorted(config.inference.speech_options.get(backend_key, {}).items())),
    )
    with _lock:
        found = _speech.get(key)
    if found is not None:
        return found
    pack = load_pack(config, pack_name, allowed_uses={"speech"})
    options = dict(config.inference.speech_options.get(backend_key, {}))
    backend = speech_backend_class(backend_key)(
        pack, cpu_threads=config.inference.cpu_threads, **options
    )
    logger.info("loaded speech backend %s with pack %s", backend_key, pack_name)
    with _lock:
        return _speech.setdefault(key, backend)


def vision_backend(config: ApplianceConfig) -> VisionBackend:
    """The configured vision backend, built once per process."""
    inf = config.inference
    threads = inf.vision_threads or inf.cpu_threads
    options = dict(inf.vision_options.get(inf.vision, {}))
    key = (
        inf.vision,
        inf.vision_pack,
        inf.vision_device,
        tuple(str(p) for p in pack_dirs(config)),
        threads,
        repr(sorted(options.items())),
    )
    with _lock:
        found = _vision.get(key)
    if found is not None:
        return found
    pack = load_pack(config, inf.vision_pack, allowed_uses={"face"})
    backend = vision_backend_class(inf.vision)(
        pack, device=inf.vision_device, cpu_threads=threads, **options
    )
    with _lock:
        return _vision.setdefault(key, backend)


def text_encoder(config: ApplianceConfig) -> TextEncoder:
    """The configured sentence encoder, built once per process."""
    inf = config.inference
    key = (inf.text_encoder, inf.text_pack, tuple(str(p) for p in pack_dirs(config)))
    with _lock:
        found = _text.get(key)
    if found is not None:
        return found
    pack = load_pack(config, inf.text_pack, allowed_uses={"text"})
    encoder = text_encoder_class(inf.text_encoder)(pack)
    with _lock:
        return _text.setdefault(key, encoder)


def forget_loaded_models() -> None:
    """Drop every cached backend and registry (tests, and after installing a pack)."""
    with _lock:
        for speech in _speech.values():
            speech.close()
        for vision in _vision.values():
            vision.close()
        _speech.clear()
        _vision.clear()
        _text.clear()
        _registries.clear()
