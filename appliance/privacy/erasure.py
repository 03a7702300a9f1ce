"""Erasure and the rights of data subjects: requests with deadlines, legal holds, erasure.

Erasing a candidate crypto-shreds their vault key: every field sealed with it (name, contact,
report content, reasons, file names) and every recording wrapped under it becomes unreadable
wherever a copy lies, pre-migration backups included (IL-3). A full backup (`backup create`)
holds the vault, so it still opens them: the erasure ledger beside the backups lists every
erasure and `backup restore` re-applies it (`erase_on_restore`); such backups leave with their
rotation (docs/operations.md). The live database also loses the derived data
(recordings, uploads, evaluations, consents, demographics, room links) and keeps, without any
text, a tombstone, the interviews, the human decisions and overrides (who decided what, when),
the AI decision log (EU-5) and a pseudonymous audit entry. A legal hold refuses all of it.

Order, so that an interrupted erasure is found and finished: the tombstone is written first,
then open jobs are cancelled and the key is shredded, then one transaction removes the derived
data and completes the tombstone, and last the spool files are deleted.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.hiring.review import MAX_REASON_CHARS
from appliance.media.spool import Spool
from appliance.platform.clock import from_stamp, now_stamp, to_stamp, utcnow
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.privacy.retention import request_due
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.data_requests import REQUEST_KINDS, DataRequest, DataRequestRepository
from appliance.store.db import OperationalError, checkpoint
from appliance.store.decision_log import DecisionLogRepository
from appliance.store.erasures import Erasure, ErasureRepository
from appliance.store.legal_holds import LegalHold, LegalHoldRepository
from appliance.store.people import Candidate

logger = logging.getLogger(__name__)

CLOSING_STATUSES = ("done", "refused")
RECEIVED_SLACK = timedelta(minutes=5)  # clocks of the desk and the appliance may differ a bit


class PrivacyError(RefusedError):
    """A data-subject request, hold or erasure is incomplete or not possible (answered 422)."""

    exit_code = 33


class LegalHoldError(PrivacyError):
    """The candidate's data is under a legal hold: it may not be erased."""

    exit_code = 34

    def __init__(self, hold: LegalHold) -> None:
        super().__init__(
            f"the candidate is under a legal hold since {hold.placed_at[:10]}: {hold.reason}"
        )
        self.hold = hold


def _text(value: str, what: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise PrivacyError(f"{what} is required")
    if len(cleaned) > MAX_REASON_CHARS:
        raise PrivacyError(f"{what} is longer than {MAX_REASON_CHARS} characters")
    return cleaned


def candidate_regions(store: Store, candidate_id: int) -> list[str]:
    """The regions whose rules apply to a candidate: residence and their jobs' regions."""
    return ErasureRepository(store).candidate_regions(candidate_id)


# --- data-subject requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    """A request as the privacy page lists it."""

    request: DataRequest
    candidate: Candidate
    overdue: bool


def open_request(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    kind: str,
    received_at: datetime | None = None,
    note: str = "",
) -> DataRequest:
    """Record a request as received; its deadline comes from the strictest region (IL-3)."""
    visibility = require(principal, Action.MANAGE_DATA_REQUESTS)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    if kind not in REQUEST_KINDS:
        raise PrivacyError(f"a request is one of: {', '.join(REQUEST_KINDS)}")
    now = utcnow()
    received = received_at or now
    if received > now + RECEIVED_SLACK:
        raise PrivacyError("a request cannot be received in the future")
    if len(note) > MAX_REASON_CHARS:
        raise PrivacyError(f"the note is longer than {MAX_REASON_CHARS} characters")
    regions = candidate_regions(store, candidate.id)
    due = request_due(received, regions)
    with store.audited(
        principal.actor, "data_request.opened", subject=candidate.pseudonym
    ) as entry:
        request = DataRequestRepository(store).create(
            candidate.id,
            kind,
            regions=regions,
            received_at=to_stamp(received),
            due_at=to_stamp(due),
            note=note.strip() or None,
            created_by=principal.user_id,
        )
        entry.details.update(request=request.id, kind=kind, due_at=request.due_at)
    return request


def close_request(
    store: Store, principal: Principal, request_id: int, *, status: str = "done"
) -> DataRequest:
    """Mark a request answered (`done`) or `refused`."""
    visibility = require(principal, Action.MANAGE_DATA_REQUESTS)
    repository = DataRequestRepository(store)
    request = repository.get_visible(request_id, visibility)
    if status not in CLOSING_STATUSES:
        raise PrivacyError(f"a request is closed as one of: {', '.join(CLOSING_STATUSES)}")
    if request.status != "open":
        raise PrivacyError("the request is already closed")
    with store.audited(
        principal.actor,
        f"data_request.{status}",
        subject=request.pseudonym,
        request=request.id,
        kind=request.kind,
    ) as entry:
        repository.close(request.id, status, principal.user_id)
        entry.details["overdue"] = _late(request)
    return repository.get(request.id)


def _late(request: DataRequest) -> bool:
    return request.overdue(now_stamp())


def list_requests(
    store: Store,
    principal: Principal,
    *,
    status: str | None = None,
    candidate_id: int | None = None,
    now: datetime | None = None,
) -> list[RequestRow]:
    """Requests in the principal's scope, open ones first by deadline, overdue ones flagged."""
    visibility = require(principal, Action.MANAGE_DATA_REQUESTS)
    stamp = to_stamp(now or utcnow())
    found = DataRequestRepository(store).visible(
        visibility, status=status, candidate_id=candidate_id
    )
    candidates = {c: store.candidates.get(c) for c in {r.candidate_id for r in found}}
    return [RequestRow(r, candidates[r.candidate_id], r.overdue(stamp)) for r in found]


def overdue_requests(store: Store, now: datetime | None = None) -> list[DataRequest]:
    """Every open request past its deadline, system-wide (for the worker's log, say)."""
    return DataRequestRepository(store).overdue(to_stamp(now or utcnow()))


# --- legal holds -------------------------------------------------------------------------------


def place_hold(store: Store, principal: Principal, *, candidate_id: int, reason: str) -> LegalHold:
    """Keep everything of a candidate: no erasure, no retention, until released."""
    visibility = require(principal, Action.MANAGE_LEGAL_HOLDS)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    text = _text(reason, "the reason for the hold")
    if ErasureRepository(store).for_candidate(candidate.id) is not None:
        raise PrivacyError("the candidate is already erased: there is nothing left to hold")
    holds = LegalHoldRepository(store)
    with store.audited(principal.actor, "legal_hold.placed", subject=candidate.pseudonym) as entry:
        hold = holds.place(candidate.id, text, principal.user_id)
        entry.details["hold"] = hold.id
    return hold


def release_hold(store: Store, principal: Principal, hold_id: int) -> LegalHold:
    """End a legal hold (it stays on record)."""
    visibility = require(principal, Action.MANAGE_LEGAL_HOLDS)
    holds = LegalHoldRepository(store)
    hold = holds.get_visible(hold_id, visibility)
    if not hold.active:
        raise PrivacyError("the hold is already released")
    with store.audited(
        principal.actor, "legal_hold.released", subject=hold.pseudonym, hold=hold.id
    ):
        holds.release(hold.id, principal.user_id)
    return holds.get(hold.id)


def list_holds(
    store: Store, principal: Principal, *, active_only: bool = True, candidate_id: int | None = None
) -> list[LegalHold]:
    """Legal holds in the principal's scope, newest first."""
    visibility = require(principal, Action.MANAGE_LEGAL_HOLDS)
    return LegalHoldRepository(store).visible(
        visibility, active_only=active_only, candidate_id=candidate_id
    )


# --- erasure -----------------------------------------------------------------------------------


def erase_candidate(
    store: Store,
    spool: Spool,
    principal: Principal,
    candidate_id: int,
    reason: str,
    *,
    request_id: int | None = None,
) -> Erasure:
    """Erase a candidate on a person's decision (a request, or the controller's own)."""
    visibility = require(principal, Action.ERASE_CANDIDATE)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    text = _text(reason, "the reason for the erasure")
    if request_id is not None:
        request = DataRequestRepository(store).get(request_id)
        if request.candidate_id != candidate.id:
            raise PrivacyError("the request is about another candidate")
    begun = ErasureRepository(store).for_candidate(candidate.id)
    if begun is not None and begun.completed_at is not None:
        raise PrivacyError("the candidate is already erased")
    return _erase(  # an interrupted erasure is finished (as it began)
        store,
        spool,
        candidate.id,
        candidate.pseudonym,
        actor=principal.actor,
        erased_by=principal.user_id,
        reason=text,
        request_id=request_id,
    )


def erase_for_retention(store: Store, spool: Spool, candidate_id: int, reason: str) -> Erasure:
    """Erase a candidate whose retention has run out (the retention job's actor, no person)."""
    candidate = store.candidates.get(candidate_id)
    return _erase(
        store,
        spool,
        candidate.id,
        candidate.pseudonym,
        actor="retention",
        erased_by=None,
        reason=reason,
        request_id=None,
    )


def erase_on_restore(
    store: Store, spool: Spool, candidate_id: int, reason: str, *, request_id: int | None
) -> Erasure:
    """Re-apply, on a restored backup, an erasure the appliance made after the backup was taken
    (the backup still holds the candidate's key); a hold in the backup refuses it as ever."""
    candidate = store.candidates.get(candidate_id)
    return _erase(
        store,
        spool,
        candidate.id,
        candidate.pseudonym,
        actor="backup-restore",
        erased_by=None,
        reason=reason,
        request_id=request_id,
    )


def _erase(
    store: Store,
    spool: Spool,
    candidate_id: int,
    pseudonym: str,
    *,
    actor: str,
    erased_by: int | None,
    reason: str,
    request_id: int | None,
) -> Erasure:
    erasures = ErasureRepository(store)
    with store.transaction():
        # Checked inside the write transaction: a hold placed meanwhile cannot slip through.
        holds = LegalHoldRepository(store).active_for(candidate_id)
        if holds:
            raise LegalHoldError(holds[0])
        erasure = erasures.for_candidate(candidate_id) or erasures.begin(
            candidate_id,
            pseudonym,
            actor=actor,
            erased_by=erased_by,
            request_id=request_id,
            reason=reason,
            regions=erasures.candidate_regions(candidate_id),
        )
    if erasure.completed_at is None:
        _complete(store, spool, erasure)
    found = erasures.for_candidate(candidate_id)
    assert found is not None
    return found


def finish_erasure(store: Store, spool: Spool, erasure: Erasure) -> bool:
    """Finish an interrupted erasure; False when a hold now stops it (key not yet shredded)."""
    if erasure.completed_at is not None:
        return False
    try:
        store.vault.key_for(erasure.pseudonym)
    except NotFoundError:
        pass  # shredded already: the erasure cannot be stopped any more, only finished
    else:
        if LegalHoldRepository(store).active_for(erasure.candidate_id):
            return False
    _complete(store, spool, erasure)
    return True


def _complete(store: Store, spool: Spool, erasure: Erasure) -> None:
    erasures = ErasureRepository(store)
    files = erasures.files_of(erasure.candidate_id)
    for job_id in erasures.open_jobs(erasure.candidate_id):
        store.jobs.cancel(job_id, "the candidate was erased")
    store.vault.shred(erasure.pseudonym)
    # The key's old page must not linger in the vault's WAL (secure_delete zeroed the file).
    checkpoint(store.vault_conn)
    with store.audited(
        erasure.actor,
        "candidate.erased",
        subject=erasure.pseudonym,
        erasure=erasure.id,
        request=erasure.request_id,
    ) as entry:
        counts = erasures.remove_derived(erasure.candidate_id)
        store.candidates.mark_erased(erasure.candidate_id)
        if erasure.request_id is not None:
            DataRequestRepository(store).close(erasure.request_id, "done", erasure.erased_by)
        counts["decision_log_kept"] = len(
            DecisionLogRepository(store).for_pseudonym(erasure.pseudonym)
        )
        erasures.complete(erasure.id, counts)
        entry.details.update(counts)
    for name in files.recordings:
        spool.remove(name)
    for name in files.partial_uploads:
        spool.discard(name)
    with contextlib.suppress(OperationalError):
        # Fold what can be folded now; the rest is sealed under a key that no longer exists.
        store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    logger.info("erasure %s completed", erasure.id)


def erasures_of(store: Store, principal: Principal, *, limit: int = 100) -> list[Erasure]:
    """Tombstones of candidates in the principal's scope, newest first."""
    visibility = require(principal, Action.MANAGE_DATA_REQUESTS)
    return ErasureRepository(store).visible(visibility, limit=limit)


# --- the AI decision log (EU-5) ----------------------------------------------------------------


def override_log_retention(
    store: Store, principal: Principal, candidate_id: int, reason: str
) -> int:
    """Purge a candidate's AI decision log before its minimum retention: an explicit, logged
    legal-hold override (a court's or an authority's order), never done by retention."""
    visibility = require(principal, Action.MANAGE_LEGAL_HOLDS)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    text = _text(reason, "the reason for the override")
    if LegalHoldRepository(store).active_for(candidate.id):
        raise PrivacyError("the candidate is under a legal hold: release it first")
    logs = DecisionLogRepository(store)
    with store.audited(
        principal.actor, "decision_log.purged", subject=candidate.pseudonym
    ) as audit_entry:
        removed = logs.delete([entry.id for entry in logs.for_pseudonym(candidate.pseudonym)])
        logs.record_purge(
            candidate.pseudonym, removed, reason=text, override=True, purged_by=principal.user_id
        )
        audit_entry.details.update(entries=removed, override=True)
    return removed


def parse_received(value: str) -> datetime | None:
    """A received date from a form (`YYYY-MM-DD`, taken as noon UTC); None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return from_stamp(f"{value}T12:00:00.000000Z")
    except ValueError:
        raise PrivacyError("the date received is YYYY-MM-DD") from None


__all__ = [
    "LegalHoldError",
    "PrivacyError",
    "candidate_regions",
    "close_request",
    "erase_candidate",
    "erase_for_retention",
    "erase_on_restore",
    "finish_erasure",
    "list_holds",
    "list_requests",
    "open_request",
    "overdue_requests",
    "override_log_retention",
    "place_hold",
    "release_hold",
]
