"""The dry run and the import batches: what an import would create and skip, and staged files.

`plan_import` is the dry run: it validates the file (each problem with its JSON path or CSV
line:column), resolves references against the store, and reports what would be created and
which records already exist (same external id, or a candidate with the same e-mail) and would
be skipped. It logs the batch and writes `import.dry_run` to the audit log. Like every step of
an import it takes the acting principal and needs the IMPORT_DATA permission.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from appliance.imports.parsing import ImportSource, parse_source
from appliance.imports.problems import ImportProblem, ImportRejectedError, Locator
from appliance.imports.resolution import Duplicate, Resolution, import_repository, resolve
from appliance.imports.schema import ENTITIES, ImportDocument
from appliance.imports.validation import check_document
from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.imports import ImportBatch

STAGE_TTL_S = 3600  # an uploaded file waits at most this long for its confirmation

# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRecord:
    """One record of the file and what the import would do with it (shown to the importer)."""

    entity: str
    location: str
    external_id: str
    label: str
    action: Literal["create", "skip"]
    applications: int = 0
    decisions: int = 0
    reason: str = ""
    existing_id: int | None = None


@dataclass
class ImportPlan:
    """The dry run's result; `run_import` imports exactly this plan, or nothing."""

    batch_id: int
    source_format: Literal["json", "csv"]
    source_sha256: str
    source_bytes: int
    problems: list[ImportProblem]
    duplicates: list[Duplicate]
    counts: dict[str, dict[str, int]]
    document: ImportDocument | None = field(default=None, repr=False)
    locate: Locator = field(default_factory=Locator, repr=False)
    resolution: Resolution | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the file can be imported as it is."""
        return not self.problems and self.document is not None and self.resolution is not None

    def summary(self) -> dict[str, Any]:
        """JSON-ready: counts, problems and duplicates by location (no personal data)."""
        return {
            "batch": self.batch_id,
            "format": self.source_format,
            "source_sha256": self.source_sha256,
            "source_bytes": self.source_bytes,
            "ok": self.ok,
            "counts": self.counts,
            "problems": [problem.as_dict() for problem in self.problems],
            "duplicates": [duplicate.as_dict() for duplicate in self.duplicates],
        }

    def records(self) -> list[PlannedRecord]:
        """Every requisition and candidate of the file with the planned action."""
        if self.document is None or self.resolution is None:
            return []
        return [
            *self._requisition_records(self.document, self.resolution),
            *self._candidate_records(self.document, self.resolution),
        ]

    def _requisition_records(
        self, document: ImportDocument, resolution: Resolution
    ) -> list[PlannedRecord]:
        found = []
        for i, req in enumerate(document.requisitions):
            existing = resolution.requisitions[i]
            found.append(
                PlannedRecord(
                    "requisition",
                    self.locate(("requisitions", i))[0],
                    req.external_id,
                    req.title,
                    "create" if existing is None else "skip",
                    reason="" if existing is None else "external_id",
                    existing_id=existing,
                )
            )
        return found

    def _candidate_records(
        self, document: ImportDocument, resolution: Resolution
    ) -> list[PlannedRecord]:
        found = []
        for i, cand in enumerate(document.candidates):
            skip = resolution.candidates[i]
            found.append(
                PlannedRecord(
                    "candidate",
                    self.locate(("candidates", i))[0],
                    cand.external_id,
                    cand.full_name,
                    "create" if skip is None else "skip",
                    len(cand.applications),
                    sum(len(a.decisions) for a in cand.applications),
                    "" if skip is None else skip[0],
                    None if skip is None else skip[1],
                )
            )
        return found


def _counts(document: ImportDocument, resolution: Resolution) -> dict[str, dict[str, int]]:
    counts = {entity: {"source": 0, "create": 0, "skipped": 0} for entity in ENTITIES}

    def add(entity: str, created: bool, n: int = 1) -> None:
        counts[entity]["source"] += n
        counts[entity]["create" if created else "skipped"] += n

    for i in range(len(document.requisitions)):
        add("requisitions", resolution.requisitions[i] is None)
    for i, candidate in enumerate(document.candidates):
        created = resolution.candidates[i] is None
        add("candidates", created)
        add("interviews", created, len(candidate.applications))
        add("decisions", created, sum(len(a.decisions) for a in candidate.applications))
    return counts


def _duplicates(
    document: ImportDocument, resolution: Resolution, locate: Locator
) -> list[Duplicate]:
    found = [
        Duplicate(
            "requisition", locate(("requisitions", i))[0], "external_id", existing, r.external_id
        )
        for i, (r, existing) in enumerate(
            zip(document.requisitions, resolution.requisitions, strict=True)
        )
        if existing is not None
    ]
    for i, (candidate, skip) in enumerate(
        zip(document.candidates, resolution.candidates, strict=True)
    ):
        if skip is not None:
            reason: Literal["external_id", "email"] = (
                "external_id" if skip[0] == "external_id" else "email"
            )
            found.append(
                Duplicate(
                    "candidate",
                    locate(("candidates", i))[0],
                    reason,
                    skip[1],
                    candidate.external_id,
                )
            )
    return found


def flat_counts(counts: dict[str, dict[str, int]], key: str) -> dict[str, int]:
    """One column of the per-entity counts (`create`, `skipped`, ...) as entity -> number."""
    return {entity: values.get(key, 0) for entity, values in counts.items()}


def _analyse(
    store: Store,
    visibility: Visibility,
    source: ImportSource,
    batch_id: int,
) -> ImportPlan:
    parsed = parse_source(source)
    problems = list(parsed.problems)
    resolution = None
    counts: dict[str, dict[str, int]] = {}
    duplicates: list[Duplicate] = []
    if parsed.document is not None:
        problems.extend(check_document(parsed.document, parsed.locate))
        resolution = resolve(store, visibility, parsed.document, parsed.locate)
        problems.extend(resolution.problems)
        counts = _counts(parsed.document, resolution)
        duplicates = _duplicates(parsed.document, resolution, parsed.locate)
    return ImportPlan(
        batch_id,
        source.format,
        hashlib.sha256(source.data).hexdigest(),
        len(source.data),
        problems,
        duplicates,
        counts,
        parsed.document,
        parsed.locate,
        resolution,
    )


# --- the dry run and the batches ---------------------------------------------------------------


def plan_import(
    store: Store,
    principal: Principal,
    source: ImportSource | Path,
    *,
    stage: bool = False,
) -> ImportPlan:
    """The dry run: validate, resolve and count; log the batch and audit `import.dry_run`.

    With `stage`, an importable file is kept with the batch (for at most STAGE_TTL_S) so that
    `staged_plan` can rebuild the plan when the importer confirms it.
    """
    visibility = require(principal, Action.IMPORT_DATA)
    if isinstance(source, Path):
        source = ImportSource.from_path(source)
    plan = _analyse(store, visibility, source, 0)
    imports = import_repository(store)
    with store.audited(principal.actor, "import.dry_run") as entry:
        imports.expire_staged(now_stamp(-STAGE_TTL_S))
        batch = imports.create_batch(
            principal.user_id,
            source_format=plan.source_format,
            source_sha256=plan.source_sha256,
            source_bytes=plan.source_bytes,
            status="planned" if plan.ok else "rejected",
            counts=plan.counts,
            report={"plan": {k: v for k, v in plan.summary().items() if k != "batch"}},
            staged_source=source.data if stage and plan.ok else None,
        )
        plan.batch_id = batch.id
        entry.details.update(
            batch=batch.id,
            format=plan.source_format,
            ok=plan.ok,
            problems=len(plan.problems),
            duplicates=len(plan.duplicates),
            create=flat_counts(plan.counts, "create"),
            skipped=flat_counts(plan.counts, "skipped"),
        )
    return plan


def own_batch(store: Store, principal: Principal, batch_id: int) -> ImportBatch:
    """A batch the principal started; any other one is reported as not found."""
    batch = import_repository(store).get(batch_id)
    if batch.created_by != principal.user_id:
        raise NotFoundError(said("no import batch %(batch)s", batch=batch_id))
    return batch


def staged_plan(store: Store, principal: Principal, batch_id: int) -> ImportPlan:
    """The plan of a staged batch, rebuilt from its file against the store as it is now."""
    visibility = require(principal, Action.IMPORT_DATA)
    batch = own_batch(store, principal, batch_id)
    data = import_repository(store).staged_source(batch.id)
    if batch.status != "planned" or data is None:
        raise ImportRejectedError(
            said(
                "batch %(batch)s has no file waiting for confirmation (%(status)s): "
                "upload the file again",
                batch=batch.id,
                status=batch.status,
            )
        )
    name = f"staged.{batch.source_format}"
    return _analyse(store, visibility, ImportSource(name, data), batch.id)


def discard_batch(store: Store, principal: Principal, batch_id: int) -> None:
    """Drop the file of a batch that waits for confirmation."""
    require(principal, Action.IMPORT_DATA)
    batch = own_batch(store, principal, batch_id)
    if batch.status != "planned":
        return
    with store.transaction():
        import_repository(store).finish(batch.id, "discarded")


def recent_batches(store: Store, principal: Principal, *, limit: int = 50) -> list[ImportBatch]:
    """The newest import batches (counts and status only)."""
    require(principal, Action.IMPORT_DATA)
    imports = import_repository(store)
    with store.transaction():
        imports.expire_staged(now_stamp(-STAGE_TTL_S))
    return imports.recent(limit)


def get_batch(store: Store, principal: Principal, batch_id: int) -> ImportBatch:
    """One import batch with its plan summary or verification report."""
    require(principal, Action.IMPORT_DATA)
    return import_repository(store).get(batch_id)
