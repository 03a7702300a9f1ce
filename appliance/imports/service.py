"""Running an import: the whole plan in one transaction, verified before it commits.

`run_import` imports everything in ONE transaction on the main database: any failure rolls
all of it back (and the vault keys made for the rolled-back candidates are shredded). Before
committing it verifies the result three ways (see appliance/imports/verification.py); a
mismatch fails the import like any other error. Like every step of an import it takes the
acting principal and needs the IMPORT_DATA permission.

Imported decisions are written here and nowhere else in this package: together with
appliance/hiring/review.py this is the only place that adds decisions
(tests/test_rules_oversight.py holds the list of such places).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from appliance.imports.planning import ImportPlan, flat_counts, own_batch
from appliance.imports.problems import (
    DocPath,
    ImportFailedError,
    ImportProblem,
    ImportRejectedError,
)
from appliance.imports.report import ImportReport
from appliance.imports.resolution import Resolution, import_repository, resolve
from appliance.imports.schema import (
    ENTITIES,
    CandidateRecord,
    DecisionRecord,
    ImportDocument,
    stamp_or_none,
)
from appliance.imports.verification import CreatedRecords, verify_import
from appliance.platform.clock import to_stamp
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.imports import ImportRepository

logger = logging.getLogger(__name__)


class _VerificationMismatchError(Exception):
    """The imported records did not verify: the run fails like any other error."""


class _LateProblemError(Exception):
    """A reference the dry run resolved no longer holds while writing."""

    def __init__(self, problem: ImportProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class _Attempt:
    """What a run made before it could fail: vault keys to shred, and its report if any."""

    pseudonyms: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None


# --- importing ---------------------------------------------------------------------------------


def run_import(store: Store, principal: Principal, plan: ImportPlan) -> ImportReport:
    """Import the plan in one transaction, verify it three ways, and commit only if it matches.

    Raises ImportRejectedError (nothing written) for a plan with problems or a batch that is
    no longer waiting, and ImportFailedError after rolling everything back.
    """
    visibility = require(principal, Action.IMPORT_DATA)
    if not plan.ok or plan.document is None or plan.resolution is None:
        raise ImportRejectedError(
            said(
                "the file has %(count)s problem(s); nothing was imported",
                count=len(plan.problems),
            ),
            plan.problems,
        )
    current = own_batch(store, principal, plan.batch_id)
    if current.status != "planned":
        raise ImportRejectedError(
            said(
                "batch %(batch)s is %(status)s, not waiting for import: run the dry run again",
                batch=current.id,
                status=current.status,
            )
        )
    actor = principal.actor
    attempt = _Attempt()
    try:
        with store.transaction():
            report = _import_verified(store, principal, visibility, plan, plan.document, attempt)
    except BaseException as exc:
        reason = _reason(exc)
        _forget_keys(store, attempt.pseudonyms)
        _record_failure(store, actor, plan, reason, attempt.report)
        if isinstance(exc, ImportFailedError):
            raise
        if not isinstance(exc, Exception):  # KeyboardInterrupt and the like pass on unchanged
            raise
        raise _rolled_back_error(plan, reason, attempt.report, exc) from exc
    return ImportReport(plan.batch_id, report)


def _import_verified(
    store: Store,
    principal: Principal,
    visibility: Visibility,
    plan: ImportPlan,
    document: ImportDocument,
    attempt: _Attempt,
) -> dict[str, Any]:
    """Write the plan, verify it and finish the batch (inside the caller's transaction)."""
    resolution = resolve(store, visibility, document, plan.locate)
    if resolution != plan.resolution:
        raise ImportFailedError(
            said(
                "the store changed since the dry run (new duplicates, requisitions or "
                "accounts): run the dry run again"
            ),
            batch_id=plan.batch_id,
            reason="conflict",
            problems=resolution.problems,
        )
    created = _BatchWriter(store, principal, plan, resolution, attempt.pseudonyms).write(document)
    report = attempt.report = verify_import(store, plan, resolution, created)
    if not report["ok"]:
        raise _VerificationMismatchError()
    counts = {
        entity: {**plan.counts.get(entity, {}), **report["counts"][entity]} for entity in ENTITIES
    }
    import_repository(store).finish(plan.batch_id, "completed", counts=counts, report=report)
    store.audit.append(
        principal.actor,
        "import.completed",
        details={
            "batch": plan.batch_id,
            "format": plan.source_format,
            "imported": {e: report["counts"][e]["imported"] for e in ENTITIES},
            "skipped": {e: report["counts"][e]["skipped"] for e in ENTITIES},
            "records_verified": report["records_matching"],
        },
    )
    return report


class _BatchWriter:
    """Writes the new records of a plan into the store, noting each in the batch's id map."""

    def __init__(
        self,
        store: Store,
        principal: Principal,
        plan: ImportPlan,
        resolution: Resolution,
        pseudonyms: list[str],
    ) -> None:
        self.store = store
        self.principal = principal
        self.plan = plan
        self.resolution = resolution
        self.pseudonyms = pseudonyms  # the caller shreds their vault keys if the run fails
        self.imports: ImportRepository = import_repository(store)
        self.created = CreatedRecords()
        self.requisition_ids: list[int] = []  # per file requisition: existing or new id
        self.planned_users = dict(resolution.users)
        self.users: dict[str, int] = {}  # deciders checked so far: user name -> id

    def write(self, document: ImportDocument) -> CreatedRecords:
        """Create the requisitions, then the candidates with interviews and decisions."""
        for i, requisition in enumerate(document.requisitions):
            existing = self.resolution.requisitions[i]
            if existing is not None:
                self.requisition_ids.append(existing)
                continue
            new_requisition = self.store.requisitions.create(
                requisition.title,
                requisition.department,
                requisition.location,
                requisition.region,
                created_by=self.principal.user_id,
                status=requisition.status,
            )
            self.imports.map_record(
                self.plan.batch_id, "requisition", requisition.external_id, new_requisition.id, i
            )
            self.requisition_ids.append(new_requisition.id)
            self.created.requisitions[i] = new_requisition.id
        for i, record in enumerate(document.candidates):
            if self.resolution.candidates[i] is None:
                self._write_candidate(i, record)
        return self.created

    def _write_candidate(self, i: int, record: CandidateRecord) -> None:
        """A new candidate with its applications, audited as imported."""
        candidate = self.store.candidates.create(
            record.full_name,
            email=record.email,
            phone=record.phone,
            residence_region=record.residence_region,
            language=record.language,
        )
        self.pseudonyms.append(candidate.pseudonym)
        self.imports.map_record(
            self.plan.batch_id, "candidate", record.external_id, candidate.id, i
        )
        self.created.candidates[i] = candidate.id
        for j in range(len(record.applications)):
            self._write_application(candidate.id, record, i, j)
        self.store.audit.append(
            self.principal.actor,
            "candidate.imported",
            subject=candidate.pseudonym,
            details={"batch": self.plan.batch_id},
        )

    def _write_application(
        self, candidate_id: int, record: CandidateRecord, i: int, j: int
    ) -> None:
        """Application `j` of new candidate `i`: its interview, then the decisions on it."""
        application = record.applications[j]
        path: DocPath = ("candidates", i, "applications", j)
        ref = self.resolution.references[i][j]
        if ref is None:
            raise _LateProblemError(self.plan.locate.problem(path, said("no requisition")))
        requisition_id = self.requisition_ids[ref.value] if ref.in_file else ref.value
        interview = self.store.interviews.create(
            candidate_id,
            requisition_id,
            kind=application.kind,
            round_no=application.round,
            language=application.language or record.language,
            scheduled_at=stamp_or_none(application.scheduled_at),
        )
        if application.status != "planned":
            self.store.interviews.set_status(interview.id, application.status)
        self.created.interviews += 1
        for k, decision in enumerate(application.decisions):
            decided_by = self._decider_id(decision, (*path, "decisions", k, "decided_by"))
            added = self.store.decisions.add(
                candidate_id, requisition_id, decision.kind, decision.reason, decided_by
            )
            self.imports.restore_decided_at(added.id, to_stamp(decision.decided_at))
            self.created.decisions += 1

    def _decider_id(self, decision: DecisionRecord, path: DocPath) -> int:
        """The account that made a decision: still the one the dry run found, or a problem."""
        if decision.decided_by not in self.users:
            user = self.store.users.by_username(decision.decided_by)
            if user is None or self.planned_users.get(decision.decided_by) != user.id:
                raise _LateProblemError(
                    self.plan.locate.problem(path, said("there is no account with this user name"))
                )
            self.users[decision.decided_by] = user.id
        return self.users[decision.decided_by]


# --- failures ----------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportFailedError):
        return exc.reason
    if isinstance(exc, _VerificationMismatchError):
        return "verification_mismatch"
    if isinstance(exc, _LateProblemError):
        return "reference_failed"
    return f"error:{type(exc).__name__}"


def _rolled_back_error(
    plan: ImportPlan, reason: str, report: dict[str, Any] | None, exc: Exception
) -> ImportFailedError:
    """The error that tells the importer a run failed and nothing of it was kept."""
    problems = [exc.problem] if isinstance(exc, _LateProblemError) else []
    message = (
        said(
            "the imported records did not verify; everything was rolled back and nothing was "
            "imported (batch %(batch)s)",
            batch=plan.batch_id,
        )
        if reason == "verification_mismatch"
        else said(
            "the import failed (%(reason)s); everything was rolled back and nothing was "
            "imported (batch %(batch)s)",
            reason=reason,
            batch=plan.batch_id,
        )
    )
    return ImportFailedError(
        message,
        batch_id=plan.batch_id,
        reason=reason,
        report=report,
        problems=problems,
    )


def _forget_keys(store: Store, pseudonyms: list[str]) -> None:
    """Shred the vault keys made for candidates whose rows were rolled back."""
    for pseudonym in pseudonyms:
        try:
            store.vault.shred(pseudonym)
        except Exception:  # an orphan key is harmless; the failure must still be reported
            logger.exception("could not shred the vault key of a rolled-back import")


def _record_failure(
    store: Store, actor: str, plan: ImportPlan, reason: str, report: dict[str, Any] | None
) -> None:
    try:
        with store.audited(
            actor,
            "import.failed",
            batch=plan.batch_id,
            format=plan.source_format,
            reason=reason,
            planned=flat_counts(plan.counts, "create"),
        ):
            import_repository(store).finish(
                plan.batch_id,
                "failed",
                report=report or {"ok": False, "batch": plan.batch_id, "error": reason},
            )
    except Exception:
        logger.exception("could not record the failure of import batch %s", plan.batch_id)
