"""The retention job: erase what expired under the rules of `retention`.

`run_retention` is cheap when nothing is due (a handful of indexed queries): the worker runs it
periodically. It never touches a candidate under a legal hold, finishes interrupted erasures,
and writes one pseudonymous audit entry per candidate and category it erased.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from appliance.media.spool import Spool
from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.privacy.erasure import LegalHoldError, erase_for_retention, finish_erasure
from appliance.privacy.retention import (
    RETENTION_ACTOR,
    Category,
    effective_rule,
    expired,
    shortest_keep,
)
from appliance.store import Store
from appliance.store.data_requests import DataRequestRepository
from appliance.store.decision_log import DecisionLogRepository
from appliance.store.erasures import ErasureRepository
from appliance.store.legal_holds import LegalHoldRepository
from appliance.store.retention import AgedItem, RetentionRepository

logger = logging.getLogger(__name__)

TRANSCRIPT_ERASED = "transcript_erased_at"


def strip_text(content: dict[str, Any], at: str) -> dict[str, Any]:
    """A report's content without its text (transcript, answers, evidence quotes): the scores,
    the media facts and the steps stay until the scores expire too."""
    scores = content.get("scores") if isinstance(content.get("scores"), dict) else {}
    kept_scores = {
        str(key): {name: value.get(name) for name in ("score", "confidence") if name in value}
        for key, value in (scores or {}).items()
        if isinstance(value, dict)
    }
    kept: dict[str, Any] = {
        key: content[key] for key in ("media", "steps_run", "steps_skipped") if key in content
    }
    return {**kept, "scores": kept_scores, TRANSCRIPT_ERASED: at}


@dataclass
class RetentionSummary:
    """What one retention run erased."""

    at: str
    counts: Counter[str] = field(default_factory=Counter)
    erased_candidates: list[str] = field(default_factory=list)  # pseudonyms
    skipped_on_hold: int = 0

    @property
    def nothing_done(self) -> bool:
        """Whether the run erased nothing."""
        return not self.counts and not self.erased_candidates

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (pseudonyms and numbers only)."""
        return {
            "at": self.at,
            "counts": dict(self.counts),
            "erased_candidates": list(self.erased_candidates),
            "skipped_on_hold": self.skipped_on_hold,
        }


def _due(
    items: list[AgedItem], category: Category, now: datetime, held: Mapping[int, str]
) -> tuple[dict[tuple[int, str], list[AgedItem]], int]:
    """Expired items per candidate, and how many a legal hold kept."""
    found: dict[tuple[int, str], list[AgedItem]] = {}
    kept = 0
    for item in items:
        if not expired(category, item.regions, item.created_at, now):
            continue
        if item.candidate_id in held:
            kept += 1
            continue
        found.setdefault((item.candidate_id, item.pseudonym), []).append(item)
    return found, kept


def _cutoff(category: Category, now: datetime) -> str:
    return to_stamp(now - timedelta(days=shortest_keep(category)))


def _log(store: Store, pseudonym: str, category: Category, count: int, keep_days: int) -> None:
    store.audit.append(
        RETENTION_ACTOR,
        "retention.erased",
        subject=pseudonym,
        details={"category": category.value, "items": count, "keep_days": keep_days},
    )


@dataclass
class _Run:
    """What every step of one retention run shares: the store, the moment, the holds, the tally."""

    store: Store
    spool: Spool
    aged: RetentionRepository
    now: datetime
    held: Mapping[int, str]
    summary: RetentionSummary

    def due(
        self, items: list[AgedItem], category: Category
    ) -> dict[tuple[int, str], list[AgedItem]]:
        """Expired items per candidate; those a legal hold kept are counted as skipped."""
        found, kept = _due(items, category, self.now, self.held)
        self.summary.skipped_on_hold += kept
        return found


def _finish_erasures(run: _Run) -> None:
    """Complete the erasures an earlier run (or request) began but did not finish."""
    for erasure in ErasureRepository(run.store).pending():
        if finish_erasure(run.store, run.spool, erasure):
            run.summary.counts["erasures_finished"] += 1


def _erase_idle_candidates(run: _Run) -> None:
    """Erase every candidate with no activity for their region's retention."""
    idle = run.due(
        run.aged.idle_candidates(_cutoff(Category.CANDIDATE, run.now)), Category.CANDIDATE
    )
    for (candidate_id, pseudonym), items in idle.items():
        rule = effective_rule(Category.CANDIDATE, items[0].regions)
        try:
            erase_for_retention(
                run.store,
                run.spool,
                candidate_id,
                f"retention: no activity for {rule.keep_days} days ({rule.source})",
            )
        except LegalHoldError:  # placed since the holds were read
            run.summary.skipped_on_hold += 1
            continue
        run.summary.erased_candidates.append(pseudonym)
        run.summary.counts[Category.CANDIDATE.value] += 1


def _erase_recordings(run: _Run) -> None:
    """Delete expired recordings: their rows in one transaction per candidate, then the files."""
    recordings = run.due(
        run.aged.recordings_before(_cutoff(Category.RECORDINGS, run.now)), Category.RECORDINGS
    )
    for (_candidate_id, pseudonym), items in recordings.items():
        with run.store.transaction():
            for item in items:
                run.aged.delete_recording(item.id)
            rule = effective_rule(Category.RECORDINGS, items[0].regions)
            _log(run.store, pseudonym, Category.RECORDINGS, len(items), rule.keep_days)
        for item in items:
            if item.spool_name:
                run.spool.remove(item.spool_name)
        run.summary.counts[Category.RECORDINGS.value] += len(items)


def _erase_scores(run: _Run, report_items: list[AgedItem]) -> set[int]:
    """Delete the reports and evaluations whose scores expired; returns the reports deleted."""
    scores = run.due(report_items, Category.SCORES)
    evaluations = run.due(
        run.aged.evaluations_before(_cutoff(Category.SCORES, run.now)), Category.SCORES
    )
    for owner in sorted(set(scores) | set(evaluations)):
        reports, evals = scores.get(owner, []), evaluations.get(owner, [])
        with run.store.transaction():
            for item in reports:
                run.aged.delete_report(item.id)
            for item in evals:
                run.aged.delete_evaluation(item.id)
            rule = effective_rule(Category.SCORES, (reports or evals)[0].regions)
            _log(run.store, owner[1], Category.SCORES, len(reports) + len(evals), rule.keep_days)
        run.summary.counts[Category.SCORES.value] += len(reports) + len(evals)
    return {item.id for items in scores.values() for item in items}


def _erase_coding_work(run: _Run) -> None:
    """Delete coding submissions and drafts (code and results) whose scores' time is up."""
    aged = run.aged.coding_work_before(_cutoff(Category.SCORES, run.now))
    kinds = {id(item): kind for kind, item in aged}
    due = run.due([item for _kind, item in aged], Category.SCORES)
    for (_candidate_id, pseudonym), items in due.items():
        with run.store.transaction():
            for item in items:
                run.aged.delete_coding_work(kinds[id(item)], item.id)
            rule = effective_rule(Category.SCORES, items[0].regions)
            _log(run.store, pseudonym, Category.SCORES, len(items), rule.keep_days)
        run.summary.counts["coding_work"] += len(items)


def _strip_transcripts(run: _Run, report_items: list[AgedItem]) -> None:
    """Strip the text from reports whose transcripts expired (the scores stay)."""
    transcripts = run.due(report_items, Category.TRANSCRIPTS)
    for (_candidate_id, pseudonym), items in transcripts.items():
        stripped = 0
        with run.store.transaction():
            for item in items:
                content = run.store.reports.get(item.id).content
                if content.get("erased") or TRANSCRIPT_ERASED in content:
                    continue
                run.store.reports.replace_content(item.id, strip_text(content, run.summary.at))
                stripped += 1
            if stripped:
                rule = effective_rule(Category.TRANSCRIPTS, items[0].regions)
                _log(run.store, pseudonym, Category.TRANSCRIPTS, stripped, rule.keep_days)
        if stripped:
            run.summary.counts[Category.TRANSCRIPTS.value] += stripped


def _purge_decision_logs(run: _Run) -> None:
    """Purge expired AI decision-log entries, all candidates in one transaction."""
    logs = DecisionLogRepository(run.store)
    held_pseudonyms = set(run.held.values())
    due_logs: dict[str, list[int]] = {}
    for entry in logs.created_before(_cutoff(Category.DECISION_LOGS, run.now)):
        if not expired(Category.DECISION_LOGS, entry.regions, entry.created_at, run.now):
            continue
        if entry.pseudonym in held_pseudonyms:
            run.summary.skipped_on_hold += 1
            continue
        due_logs.setdefault(entry.pseudonym, []).append(entry.id)
    if not due_logs:
        return
    with run.store.transaction():
        for pseudonym, ids in due_logs.items():
            removed = logs.delete(ids)
            logs.record_purge(
                pseudonym, removed, reason="retention", override=False, purged_by=None
            )
            run.store.audit.append(
                RETENTION_ACTOR,
                "decision_log.purged",
                subject=pseudonym,
                details={"entries": removed, "override": False},
            )
            run.summary.counts[Category.DECISION_LOGS.value] += removed


def run_retention(store: Store, spool: Spool, now: datetime | None = None) -> RetentionSummary:
    """Erase every item past its region's retention (ALL-2); held candidates are left alone."""

    now = now or utcnow()
    summary = RetentionSummary(to_stamp(now))
    held = LegalHoldRepository(store).held_candidates()
    run = _Run(store, spool, RetentionRepository(store), now, held, summary)

    _finish_erasures(run)
    # Whole candidates first: what they take with them is not erased item by item below.
    _erase_idle_candidates(run)
    _erase_recordings(run)
    # Reports are read once: those whose scores expire go whole, the rest may lose their text.
    report_items = run.aged.reports_before(_cutoff(Category.TRANSCRIPTS, now))
    deleted = _erase_scores(run, report_items)
    _erase_coding_work(run)  # a coding round's code and results go with the scores
    _strip_transcripts(run, [item for item in report_items if item.id not in deleted])
    _purge_decision_logs(run)

    if not summary.nothing_done:
        logger.info("retention erased %s", dict(summary.counts))
    return summary


def retention_chore(store: Store, config: ApplianceConfig, spool: Spool) -> RetentionSummary:
    """`run_retention` in the shape of a worker chore (appliance.jobs.worker.PERIODIC)."""
    summary = run_retention(store, spool)
    overdue = DataRequestRepository(store).overdue(summary.at)
    if overdue:
        # Ids only: the privacy page shows the rest to the people who answer them.
        logger.warning(
            "%d data-subject request(s) overdue: %s",
            len(overdue),
            ", ".join(str(request.id) for request in overdue),
        )
    return summary
