"""How closely an answer speaks to a competency: dictionary keywords plus sentence embeddings
of its units against the dimension's description, anchors, questions and keywords."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from appliance.scoring.text import Unit
from appliance.store.competency import LEVELS, DimensionSpec
from inference.interfaces import TextEncoder

# Cosine similarities of multilingual-e5-small sit in a narrow band, higher for Chinese; these
# bounds map it onto 0..1 per language (tuned on the tuning part of tests/data/star_eval only).
SIM_BOUNDS = {"en": (0.81, 0.86), "zh": (0.85, 0.90)}
# What one distinct dictionary phrase adds to relevance.
KEYWORD_WEIGHT = 0.25
# Below this relevance an answer counts as off the asked competency (used when the model has
# no other competency to compare with).
ON_TOPIC = 0.5
# With other competencies in the model, an answer is off the asked one when another is closer
# by more than this much (cosine of the whole answer to each competency's profile centroid;
# chosen on the dev split of tests/data/scoring_eval, where absolute similarity could not
# tell a good story about another skill from an on-topic one).
# A hard cap at this margin beat a soft discount by the margin in 5-fold cross-validation on
# the dev split (Spearman 0.72-0.74 against 0.57-0.67, thresholds chosen inside the folds).
OFF_TOPIC_MARGIN = -0.017
# Below these similarities to the competency's centroid an answer is about none of it (every
# on-topic answer of the dev split scored above them; a story about baking bread does not).
TOPIC_FLOOR = {"en": 0.85, "zh": 0.885}
# Rounding keeps scores identical across BLAS thread counts.
DECIMALS = 4


@dataclass(frozen=True)
class Relevance:
    """Relevance of one answer to one dimension, with the units that carried it."""

    value: float
    similarity: float
    keyword_hits: tuple[tuple[int, str], ...]  # (unit index, phrase)
    best_unit: int | None
    anchor_level: float | None
    # How much closer the asked competency is than the nearest other one (None: no other).
    margin: float | None = None
    # Similarity of the whole answer to the competency's centroid, and the floor for its language.
    topic_similarity: float = 1.0
    floor: float = 0.0

    @property
    def on_topic(self) -> bool:
        """Whether the answer addresses the dimension at all."""
        if self.margin is None:
            return self.value >= ON_TOPIC
        return self.margin >= OFF_TOPIC_MARGIN and self.topic_similarity >= self.floor


def keyword_hits(
    units: Sequence[Unit], phrases: Sequence[str], language: str
) -> list[tuple[int, str]]:
    """(unit index, phrase) for every dictionary phrase found in a unit, in unit order."""
    found: list[tuple[int, str]] = []
    for unit in units:
        text = unit.text.lower()
        for phrase in phrases:
            needle = phrase.lower().strip()
            if not needle:
                continue
            if language == "zh" or not needle.isascii():
                hit = needle in text
            else:
                hit = re.search(rf"\b{re.escape(needle)}", text) is not None
            if hit:
                found.append((unit.index, phrase))
    return found


def profile_texts(dim: DimensionSpec, language: str) -> list[str]:
    """What the dimension looks like in text: description, good anchors, questions, keywords."""
    other = "zh" if language == "en" else "en"
    texts = [dim.description] if dim.description else []
    texts += [dim.anchor(level, language) for level in (6, 9)]
    texts += dim.questions_in(language) or dim.questions_in(other)
    keywords = dim.keywords_in(language) or dim.keywords_in(other)
    if keywords:
        texts.append(", ".join(keywords))
    return [t for t in texts if t]


# Embeddings of model texts (anchors, questions, keywords) per encoder, kept across scoring
# runs: they belong to the competency model, not to a candidate. Answer texts are never kept.
_MODEL_TEXTS: weakref.WeakKeyDictionary[TextEncoder, dict[str, npt.NDArray[np.float32]]] = (
    weakref.WeakKeyDictionary()
)
_MODEL_TEXTS_LIMIT = 20_000
_lock = threading.Lock()


class Embedder:
    """Embeddings with a per-call cache for answer texts and a shared one for model texts."""

    def __init__(self, encoder: TextEncoder) -> None:
        self.encoder = encoder
        self._cache: dict[str, npt.NDArray[np.float32]] = {}
        with _lock:
            self._shared = _MODEL_TEXTS.setdefault(encoder, {})

    def _encode(self, texts: list[str]) -> list[npt.NDArray[np.float32]]:
        encoded = self.encoder.encode(texts, kind="query")
        return [np.asarray(row, dtype=np.float32) for row in encoded]

    def vectors(
        self, texts: Sequence[str], *, model_texts: bool = False
    ) -> npt.NDArray[np.float32]:
        """Unit vectors for `texts` (as queries: similarity is symmetric here)."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        cache = self._shared if model_texts else self._cache
        with _lock:
            known = {t: cache[t] for t in texts if t in cache}
        missing = sorted({t for t in texts if t not in known})
        if missing:
            found = dict(zip(missing, self._encode(missing), strict=True))
            known.update(found)
            with _lock:
                if model_texts and len(cache) + len(found) > _MODEL_TEXTS_LIMIT:
                    cache.clear()
                cache.update(found)
        return np.stack([known[t] for t in texts])


def _scale(similarity: float, language: str) -> float:
    floor, ceil = SIM_BOUNDS.get(language, SIM_BOUNDS["en"])
    return min(1.0, max(0.0, (similarity - floor) / (ceil - floor)))


def _centroid(dim: DimensionSpec, language: str, embedder: Embedder) -> npt.NDArray[np.float32]:
    """The unit-length mean of a dimension's profile embeddings."""
    vectors = embedder.vectors(
        profile_texts(dim, language) or [dim.label(language)], model_texts=True
    )
    mean = np.asarray(vectors.mean(axis=0), dtype=np.float32)
    unit: npt.NDArray[np.float32] = mean / np.float32(max(float(np.linalg.norm(mean)), 1e-9))
    return unit


def topic_fit(
    whole: npt.NDArray[np.float32],
    dim: DimensionSpec,
    siblings: Sequence[DimensionSpec],
    language: str,
    embedder: Embedder,
) -> tuple[float, float | None]:
    """Similarity of the answer to `dim`'s centroid, and that minus its similarity to the
    closest sibling's (None without siblings)."""
    own = round(float(_centroid(dim, language, embedder) @ whole), DECIMALS)
    if not siblings:
        return own, None
    other = max(float(_centroid(s, language, embedder) @ whole) for s in siblings)
    return own, round(own - other, DECIMALS)


def relevance(
    units: Sequence[Unit],
    dim: DimensionSpec,
    language: str,
    embedder: Embedder,
    siblings: Sequence[DimensionSpec] = (),
) -> Relevance:
    """Relevance of the answer's units to `dim`: the best unit's similarity, raised by hits,
    and (given the model's other competencies) how it compares with the closest of them."""
    if not units:
        return Relevance(0.0, 0.0, (), None, None)
    phrases = dim.keywords_in(language) or dim.keywords_in("en")
    hits = keyword_hits(units, phrases, language)
    profile = profile_texts(dim, language)
    unit_vecs = embedder.vectors([u.text for u in units])
    best_unit: int | None = None
    similarity = 0.0
    if profile:
        sims = np.round(unit_vecs @ embedder.vectors(profile, model_texts=True).T, DECIMALS)
        per_unit = sims.max(axis=1)
        best = int(np.argmax(per_unit))
        best_unit, similarity = units[best].index, float(per_unit[best])
    # Each distinct phrase adds evidence of topic; embeddings alone miss jargon-light answers.
    distinct = len({phrase for _, phrase in hits})
    value = min(1.0, _scale(similarity, language) + KEYWORD_WEIGHT * distinct)
    anchors = [(level, dim.anchor(level, language)) for level in LEVELS]
    anchor_level: float | None = None
    whole = " ".join(u.text for u in units) if language != "zh" else "".join(u.text for u in units)
    answer_vec = embedder.vectors([whole])[0]
    topic_similarity, margin = topic_fit(answer_vec, dim, siblings, language, embedder)
    if all(text for _, text in anchors):
        anchor_sims = np.round(
            embedder.vectors([t for _, t in anchors], model_texts=True) @ answer_vec, DECIMALS
        )
        weights = np.exp((anchor_sims - anchor_sims.max()) * 60.0)
        anchor_level = round(
            float(np.dot(weights, [level for level, _ in anchors]) / weights.sum()), 2
        )
    return Relevance(
        round(value, 4),
        round(similarity, 4),
        tuple(hits),
        best_unit,
        anchor_level,
        margin,
        topic_similarity,
        TOPIC_FLOOR.get(language, TOPIC_FLOOR["en"]),
    )
