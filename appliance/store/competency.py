"""Full competency-model specs: dimensions with level anchors, keyword dictionaries (EN/ZH),
questions, and the version each spec was saved as.

`competency_models` keeps one row per version; this repository writes it with what scoring
needs and reads it back as one `ModelSpec`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository
from appliance.store.sealed import savepoint

if TYPE_CHECKING:
    from appliance.store import Store

LANGUAGES = ("en", "zh")
LEVELS = (3, 6, 9)
ORIGINS = ("editor", "starter", "import", "api")
SPEC_CACHE = 64  # model versions kept in memory per store


@dataclass(frozen=True)
class Question:
    """A behavioural question asked for one dimension."""

    language: str
    text: str


@dataclass(frozen=True)
class Anchor:
    """What an answer at `level` (3, 6 or 9) looks like, in one language."""

    level: int
    language: str
    text: str


@dataclass(frozen=True)
class Keyword:
    """A word or phrase that signals the competency, in one language."""

    language: str
    phrase: str


@dataclass(frozen=True)
class DimensionSpec:
    """One competency with everything the scorer and the interview plan use."""

    key: str
    name: str
    weight: float
    description: str = ""
    name_zh: str = ""
    questions: tuple[Question, ...] = ()
    anchors: tuple[Anchor, ...] = ()
    keywords: tuple[Keyword, ...] = ()

    def anchor(self, level: int, language: str) -> str:
        """The anchor text for a level, in `language` if written, else in the other one."""
        texts = {(a.level, a.language): a.text for a in self.anchors}
        other = "zh" if language == "en" else "en"
        return texts.get((level, language)) or texts.get((level, other), "")

    def keywords_in(self, language: str) -> list[str]:
        """The dictionary phrases of one language."""
        return [k.phrase for k in self.keywords if k.language == language]

    def questions_in(self, language: str) -> list[str]:
        """The behavioural questions of one language."""
        return [q.text for q in self.questions if q.language == language]

    def label(self, language: str) -> str:
        """The dimension's name in `language` (the English name when no Chinese one)."""
        return self.name_zh if language == "zh" and self.name_zh else self.name


@dataclass(frozen=True)
class ModelSpec:
    """A competency model version as scored; `id` is None until saved."""

    name: str
    dimensions: tuple[DimensionSpec, ...]
    description: str = ""
    id: int | None = None
    version: int = 0
    origin: str = "editor"
    created_at: str = ""

    @property
    def label(self) -> str:
        """`name v<version>`, as a report names the model it was scored with."""
        return f"{self.name} v{self.version}"

    def dimension(self, key: str) -> DimensionSpec | None:
        """The dimension with `key`, if the model has it."""
        return next((d for d in self.dimensions if d.key == key), None)


@dataclass(frozen=True)
class VersionInfo:
    """One saved version of a model, for the version list."""

    id: int
    name: str
    version: int
    origin: str
    created_at: str
    dimensions: int


class CompetencyRepository(Repository):
    """Save and read full model specs; a save always inserts a new version.

    A saved version is never changed or deleted (a change is a new version), so the specs read
    are kept in memory by id: every report page names its model, which takes a dozen queries
    to read. Only what was read outside a transaction is kept (it is committed: a save is one
    savepoint, never seen half-written), at most `SPEC_CACHE` versions, per store.
    """

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._specs: OrderedDict[int, ModelSpec] = OrderedDict()
        self._specs_lock = threading.Lock()

    def save(self, spec: ModelSpec, *, created_by: int | None = None) -> ModelSpec:
        """Store `spec` as the next version of the model called `spec.name` (all or nothing)."""
        if not spec.dimensions:
            raise ValueError("a competency model needs at least one dimension")
        if spec.origin not in ORIGINS:
            raise ValueError(f"unknown model origin {spec.origin!r}")
        with savepoint(self.conn, "competency_model"):
            model_id = self._insert(spec, created_by)
        return self.spec(model_id)

    def _insert(self, spec: ModelSpec, created_by: int | None) -> int:
        """Insert the next version of `spec`'s model with its dimensions; returns its id."""
        row = self.conn.execute(
            "SELECT coalesce(max(version), 0) FROM competency_models WHERE name = ?",
            (spec.name,),
        ).fetchone()
        version = int(row[0]) + 1
        cursor = self.conn.execute(
            "INSERT INTO competency_models (name, version, description, created_by, created_at,"
            " origin) VALUES (?, ?, ?, ?, ?, ?)",
            (spec.name, version, spec.description, created_by, now_stamp(), spec.origin),
        )
        model_id = int(cursor.lastrowid)
        for position, dim in enumerate(spec.dimensions):
            dim_id = int(
                self.conn.execute(
                    "INSERT INTO competency_dimensions (model_id, key, name, description, weight,"
                    " position, name_zh) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        model_id,
                        dim.key,
                        dim.name,
                        dim.description,
                        dim.weight,
                        position,
                        dim.name_zh,
                    ),
                ).lastrowid
            )
            for q_position, question in enumerate(dim.questions):
                self.conn.execute(
                    "INSERT INTO competency_questions (dimension_id, language, text, position)"
                    " VALUES (?, ?, ?, ?)",
                    (dim_id, question.language, question.text, q_position),
                )
            for anchor in dim.anchors:
                self.conn.execute(
                    "INSERT INTO competency_anchors (dimension_id, level, language, text)"
                    " VALUES (?, ?, ?, ?)",
                    (dim_id, anchor.level, anchor.language, anchor.text),
                )
            seen: set[tuple[str, str]] = set()
            for k_position, keyword in enumerate(dim.keywords):
                if (keyword.language, keyword.phrase) in seen:
                    continue
                seen.add((keyword.language, keyword.phrase))
                self.conn.execute(
                    "INSERT INTO competency_keywords (dimension_id, language, phrase, position)"
                    " VALUES (?, ?, ?, ?)",
                    (dim_id, keyword.language, keyword.phrase, k_position),
                )
        return model_id

    def spec(self, model_id: int) -> ModelSpec:
        """One saved model version with anchors, keywords and questions."""
        with self._specs_lock:
            kept = self._specs.get(model_id)
            if kept is not None:
                self._specs.move_to_end(model_id)
                return kept
        found = self._read_spec(model_id)
        if not self.conn.in_transaction:
            with self._specs_lock:
                self._specs[model_id] = found
                while len(self._specs) > SPEC_CACHE:
                    self._specs.popitem(last=False)
        return found

    def _read_spec(self, model_id: int) -> ModelSpec:
        """`spec` from the database."""
        row = self.conn.execute(
            "SELECT * FROM competency_models WHERE id = ?", (model_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no competency model {model_id}")
        dimensions = []
        for dim in self.conn.execute(
            "SELECT * FROM competency_dimensions WHERE model_id = ? ORDER BY position",
            (model_id,),
        ).fetchall():
            questions = tuple(
                Question(q["language"], q["text"])
                for q in self.conn.execute(
                    "SELECT language, text FROM competency_questions WHERE dimension_id = ?"
                    " ORDER BY position, id",
                    (dim["id"],),
                )
            )
            anchors = tuple(
                Anchor(a["level"], a["language"], a["text"])
                for a in self.conn.execute(
                    "SELECT level, language, text FROM competency_anchors WHERE dimension_id = ?"
                    " ORDER BY level, language",
                    (dim["id"],),
                )
            )
            keywords = tuple(
                Keyword(k["language"], k["phrase"])
                for k in self.conn.execute(
                    "SELECT language, phrase FROM competency_keywords WHERE dimension_id = ?"
                    " ORDER BY language, position, id",
                    (dim["id"],),
                )
            )
            dimensions.append(
                DimensionSpec(
                    dim["key"],
                    dim["name"],
                    float(dim["weight"]),
                    dim["description"],
                    dim["name_zh"],
                    questions,
                    anchors,
                    keywords,
                )
            )
        return ModelSpec(
            row["name"],
            tuple(dimensions),
            row["description"],
            row["id"],
            row["version"],
            row["origin"],
            row["created_at"],
        )

    def latest(self, name: str) -> ModelSpec | None:
        """The newest version of the model called `name`, if any."""
        row = self.conn.execute(
            "SELECT id FROM competency_models WHERE name = ? ORDER BY version DESC LIMIT 1",
            (name,),
        ).fetchone()
        return self.spec(int(row["id"])) if row else None

    def versions(self, name: str) -> list[VersionInfo]:
        """Every saved version of one model, newest first."""
        return [
            VersionInfo(
                r["id"], r["name"], r["version"], r["origin"], r["created_at"], r["dimensions"]
            )
            for r in self.conn.execute(
                "SELECT m.id, m.name, m.version, m.origin, m.created_at,"
                " (SELECT count(*) FROM competency_dimensions d WHERE d.model_id = m.id)"
                " AS dimensions FROM competency_models m WHERE m.name = ?"
                " ORDER BY m.version DESC",
                (name,),
            )
        ]
