"""The three-way verification of an import, run inside its transaction before it commits.

It checks (a) counts per entity in the source, imported and re-read from the store, (b) the
SHA-256 of each record's canonical form in the source and re-exported from the store, (c) a
round trip: the imported records exported back into import-v1, parsed again and compared with
the (normalised) source. A mismatch fails the import like any other error. The verification
report holds locations, ids, counts and hashes, never names or e-mail addresses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from appliance.imports.planning import ImportPlan
from appliance.imports.problems import Locator, validation_problems
from appliance.imports.resolution import Resolution, import_repository
from appliance.imports.schema import (
    ENTITIES,
    SCHEMA_ID,
    ApplicationRecord,
    CandidateRecord,
    ImportDocument,
    RequisitionRecord,
    stamp_or_none,
)
from appliance.platform.clock import now_stamp, to_stamp
from appliance.platform.errors import NotFoundError
from appliance.store import Store
from appliance.store.base import dumps


@dataclass
class CreatedRecords:
    """What an import wrote, by the file's indexes: the verification's expectation."""

    requisitions: dict[int, int] = field(default_factory=dict)  # file index -> id
    candidates: dict[int, int] = field(default_factory=dict)  # file index -> id
    interviews: int = 0
    decisions: int = 0


def canonical_hash(record: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON (sorted keys, compact, UTF-8)."""
    return hashlib.sha256(dumps(record).encode("utf-8")).hexdigest()


# --- canonical forms ---------------------------------------------------------------------------


def _canonical_requisition(record: RequisitionRecord) -> dict[str, Any]:
    return {
        "external_id": record.external_id,
        "title": record.title,
        "department": record.department,
        "location": record.location,
        "region": record.region,
        "status": record.status,
    }


def _canonical_candidate(
    record: CandidateRecord, reference: Callable[[int, ApplicationRecord], dict[str, Any]]
) -> dict[str, Any]:
    return {
        "external_id": record.external_id,
        "full_name": record.full_name,
        "email": record.email,
        "phone": record.phone,
        "residence_region": record.residence_region,
        "language": record.language,
        "applications": [
            {
                **reference(j, application),
                "round": application.round,
                "status": application.status,
                "kind": application.kind,
                "language": application.language or record.language,
                "scheduled_at": stamp_or_none(application.scheduled_at),
                "decisions": [
                    {
                        "kind": decision.kind,
                        "reason": decision.reason,
                        "decided_at": to_stamp(decision.decided_at),
                        "decided_by": decision.decided_by,
                    }
                    for decision in application.decisions
                ],
            }
            for j, application in enumerate(record.applications)
        ],
    }


class _Exporter:
    """Reads imported records back from the store, in import-v1's canonical form."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.imports = import_repository(store)
        self._refs: dict[int, dict[str, Any]] = {}
        self._usernames: dict[int, str] = {}

    def reference(self, requisition_id: int) -> dict[str, Any]:
        """How import-v1 names a requisition: its external id, else its title."""
        if requisition_id not in self._refs:
            external = self.imports.external_ids("requisition", [requisition_id])
            if requisition_id in external:
                ref = {"requisition": external[requisition_id], "requisition_title": None}
            else:
                title = self.store.requisitions.get(requisition_id).title
                ref = {"requisition": None, "requisition_title": title}
            self._refs[requisition_id] = ref
        return self._refs[requisition_id]

    def username(self, user_id: int) -> str:
        """The user name of an account."""
        if user_id not in self._usernames:
            self._usernames[user_id] = self.store.users.get(user_id).username
        return self._usernames[user_id]

    def requisition(self, requisition_id: int, external_id: str) -> dict[str, Any]:
        """A requisition in canonical form."""
        req = self.store.requisitions.get(requisition_id)
        return {
            "external_id": external_id,
            "title": req.title,
            "department": req.department,
            "location": req.location,
            "region": req.region,
            "status": req.status,
        }

    def candidate(self, candidate_id: int, external_id: str) -> tuple[dict[str, Any], int, int]:
        """A candidate in canonical form, with how many interviews and decisions it has."""
        candidate = self.store.candidates.get(candidate_id)
        interviews = self.store.interviews.for_candidate(candidate_id)
        decisions = self.store.decisions.for_candidate(candidate_id)
        applications = [
            {
                **self.reference(interview.requisition_id),
                "round": interview.round,
                "status": interview.status,
                "kind": interview.kind,
                "language": interview.language,
                "scheduled_at": interview.scheduled_at,
                "decisions": [
                    {
                        "kind": decision.kind,
                        "reason": decision.reason,
                        "decided_at": decision.decided_at,
                        "decided_by": self.username(decision.decided_by),
                    }
                    for decision in decisions
                    if decision.requisition_id == interview.requisition_id
                ],
            }
            for interview in interviews
        ]
        record = {
            "external_id": external_id,
            "full_name": candidate.full_name,
            "email": candidate.email,
            "phone": candidate.phone,
            "residence_region": candidate.residence_region,
            "language": candidate.language,
            "applications": applications,
        }
        return record, len(interviews), len(decisions)


# --- comparing the source with the store -------------------------------------------------------


def _empty_document() -> dict[str, Any]:
    return {"schema": SCHEMA_ID, "requisitions": [], "candidates": []}


@dataclass
class _Comparison:
    """The imported records side by side: in the source's and in the store's canonical form."""

    source_doc: dict[str, Any] = field(default_factory=_empty_document)
    export_doc: dict[str, Any] = field(default_factory=_empty_document)
    records: list[dict[str, Any]] = field(default_factory=list)  # per record: ids and hashes
    stored: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENTITIES, 0))


def _compare_requisitions(
    exporter: _Exporter,
    plan: ImportPlan,
    document: ImportDocument,
    resolution: Resolution,
    stored_ids: dict[str, int],
    comparison: _Comparison,
) -> None:
    """Add each imported requisition as the source and as the store have it."""
    for i, req_record in enumerate(document.requisitions):
        if resolution.requisitions[i] is not None:
            continue
        location = plan.locate(("requisitions", i))[0]
        source_form = _canonical_requisition(req_record)
        comparison.source_doc["requisitions"].append(source_form)
        local_id = stored_ids.get(req_record.external_id)
        store_form: dict[str, Any] | None = None
        if local_id is not None:
            try:
                store_form = exporter.requisition(local_id, req_record.external_id)
            except NotFoundError:
                store_form = None
        if store_form is not None:
            comparison.stored["requisitions"] += 1
            comparison.export_doc["requisitions"].append(store_form)
        comparison.records.append(
            _record_entry("requisition", location, local_id, source_form, store_form)
        )


def _compare_candidates(
    exporter: _Exporter,
    plan: ImportPlan,
    document: ImportDocument,
    resolution: Resolution,
    created: CreatedRecords,
    stored_ids: dict[str, int],
    comparison: _Comparison,
) -> None:
    """Add each imported candidate, with its applications, as the source and the store have it."""

    def source_reference(i: int) -> Callable[[int, ApplicationRecord], dict[str, Any]]:
        # The source names requisitions as the export will: through the ids the import made.
        def reference(j: int, _: ApplicationRecord) -> dict[str, Any]:
            ref = resolution.references[i][j]
            assert ref is not None
            requisition_id = created.requisitions[ref.value] if ref.in_file else ref.value
            return exporter.reference(requisition_id)

        return reference

    for i, record in enumerate(document.candidates):
        if resolution.candidates[i] is not None:
            continue
        location = plan.locate(("candidates", i))[0]
        source_form = _canonical_candidate(record, source_reference(i))
        comparison.source_doc["candidates"].append(source_form)
        local_id = stored_ids.get(record.external_id)
        store_form = None
        if local_id is not None:
            try:
                store_form, interviews, decisions = exporter.candidate(local_id, record.external_id)
            except NotFoundError:
                store_form = None
            else:
                comparison.stored["candidates"] += 1
                comparison.stored["interviews"] += interviews
                comparison.stored["decisions"] += decisions
                comparison.export_doc["candidates"].append(store_form)
        comparison.records.append(
            _record_entry("candidate", location, local_id, source_form, store_form)
        )


def _record_entry(
    entity: str,
    location: str,
    local_id: int | None,
    source_form: dict[str, Any],
    store_form: dict[str, Any] | None,
) -> dict[str, Any]:
    source_hash = canonical_hash(source_form)
    store_hash = canonical_hash(store_form) if store_form is not None else None
    return {
        "entity": entity,
        "location": location,
        "id": local_id,
        "source_sha256": source_hash,
        "store_sha256": store_hash,
        "match": source_hash == store_hash,
    }


def _differences(source: Any, exported: Any, path: str) -> list[str]:
    """Paths where two JSON values differ (never the values themselves)."""
    if isinstance(source, dict) and isinstance(exported, dict):
        found = []
        for key in sorted(set(source) | set(exported)):
            if key not in exported:
                found.append(f"{path}.{key}: missing from the export")
            elif key not in source:
                found.append(f"{path}.{key}: not in the source")
            else:
                found.extend(_differences(source[key], exported[key], f"{path}.{key}"))
        return found
    if isinstance(source, list) and isinstance(exported, list):
        found = [
            item
            for index, (left, right) in enumerate(zip(source, exported, strict=False))
            for item in _differences(left, right, f"{path}[{index}]")
        ]
        if len(source) != len(exported):
            found.append(f"{path}: {len(source)} in the source, {len(exported)} in the export")
        return found
    if source != exported or type(source) is not type(exported):
        return [f"{path}: differs"]
    return []


def _reparsed(document: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """The exported document read back as import-v1, in canonical form (or its problems)."""
    try:
        parsed = ImportDocument.model_validate(document)
    except ValidationError as exc:
        return None, [str(p) for p in validation_problems(exc, Locator())]

    def as_written(_: int, application: ApplicationRecord) -> dict[str, Any]:
        return {
            "requisition": application.requisition,
            "requisition_title": application.requisition_title,
        }

    return {
        "schema": SCHEMA_ID,
        "requisitions": [_canonical_requisition(r) for r in parsed.requisitions],
        "candidates": [_canonical_candidate(c, as_written) for c in parsed.candidates],
    }, []


# --- the report --------------------------------------------------------------------------------


def verify_import(
    store: Store, plan: ImportPlan, resolution: Resolution, created: CreatedRecords
) -> dict[str, Any]:
    """The three-way verification of an import (run inside its transaction).

    (a) counts per entity: in the source, skipped as duplicates, imported, re-read from the
    store; (b) per record, the SHA-256 of its canonical form in the source and re-exported from
    the store; (c) the re-exported records as an import-v1 document, parsed again and compared
    with the normalised source. Returns the JSON report (locations, ids, counts and hashes).
    """
    document = plan.document
    assert document is not None
    exporter = _Exporter(store)
    # What the store holds for this batch, found through the batch's external-id map.
    stored_requisitions = dict(exporter.imports.records(plan.batch_id, "requisition"))
    stored_candidates = dict(exporter.imports.records(plan.batch_id, "candidate"))
    comparison = _Comparison()
    _compare_requisitions(exporter, plan, document, resolution, stored_requisitions, comparison)
    _compare_candidates(
        exporter, plan, document, resolution, created, stored_candidates, comparison
    )
    mismatches: list[str] = []
    counts = _count_report(plan, created, comparison.stored, mismatches)  # (a)
    mismatches.extend(_hash_mismatches(comparison.records))  # (b)
    # (c) the round trip: export -> import-v1 -> canonical, against the normalised source
    reparsed, export_problems = _reparsed(comparison.export_doc)
    differences = export_problems or _differences(comparison.source_doc, reparsed, "$")
    mismatches.extend(f"round trip: {difference}" for difference in differences)
    return {
        "schema": SCHEMA_ID,
        "batch": plan.batch_id,
        "format": plan.source_format,
        "source_sha256": plan.source_sha256,
        "verified_at": now_stamp(),
        "ok": not mismatches,
        "counts": counts,
        "records": comparison.records,
        "records_matching": sum(1 for entry in comparison.records if entry["match"]),
        "duplicates": [duplicate.as_dict() for duplicate in plan.duplicates],
        "round_trip": {
            "match": not differences,
            "export_valid": not export_problems,
            "source_sha256": canonical_hash(comparison.source_doc),
            "export_sha256": canonical_hash(reparsed) if reparsed is not None else None,
            "differences": differences,
        },
        "mismatches": mismatches,
    }


def _count_report(
    plan: ImportPlan, created: CreatedRecords, stored: dict[str, int], mismatches: list[str]
) -> dict[str, dict[str, Any]]:
    """Per entity: in the source, skipped, expected, imported and re-read; notes mismatches."""
    imported = {
        "requisitions": len(created.requisitions),
        "candidates": len(created.candidates),
        "interviews": created.interviews,
        "decisions": created.decisions,
    }
    counts: dict[str, dict[str, Any]] = {}
    for entity in ENTITIES:
        planned = plan.counts.get(entity, {})
        source_n = planned.get("source", 0)
        skipped = planned.get("skipped", 0)
        expected = source_n - skipped
        match = expected == imported[entity] == stored[entity]
        counts[entity] = {
            "source": source_n,
            "skipped": skipped,
            "expected": expected,
            "imported": imported[entity],
            "stored": stored[entity],
            "match": match,
        }
        if not match:
            mismatches.append(
                f"counts of {entity}: expected {expected}, imported {imported[entity]}, "
                f"re-read {stored[entity]}"
            )
    return counts


def _hash_mismatches(records: list[dict[str, Any]]) -> list[str]:
    """The records whose canonical form in the store differs from the source's, or is missing."""
    return [
        f"{entry['entity']} at {entry['location']} (id {entry['id']}): the store's "
        "canonical form has another SHA-256 than the source's"
        if entry["store_sha256"]
        else f"{entry['entity']} at {entry['location']}: not found in the store"
        for entry in records
        if not entry["match"]
    ]
