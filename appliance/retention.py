"""Retention (ALL-2): how long each region keeps what, and the job that erases what expired.

`PROFILES` is data: per region, per category, how long an item is kept (`keep_days`), the
minimum a law obliges us to keep it (`min_days`), and the legal source; plus the deadline for
answering a data-subject request. Where several regions apply to an item (the requisition's
region and the candidate's residence), the stricter rule wins: the shortest keep, unless some
region obliges a longer minimum (a duty to keep outranks a wish to delete: GDPR Art. 17(3)(b)).

`run_retention` is cheap when nothing is due (a handful of indexed queries): the worker runs it
periodically. It never touches a candidate under a legal hold, finishes interrupted erasures,
and writes one pseudonymous audit entry per candidate and category it erased.
"""

from __future__ import annotations

import calendar
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from appliance.clock import from_stamp, to_stamp, utcnow
from appliance.config import ApplianceConfig
from appliance.spool import Spool
from appliance.store import Store
from appliance.store.privacy import (
    AgedItem,
    DataRequestRepository,
    DecisionLogRepository,
    ErasureRepository,
    LegalHoldRepository,
    RetentionRepository,
)

logger = logging.getLogger(__name__)

DEFAULT_REGION = "default"
RETENTION_ACTOR = "retention"
RETENTION_INTERVAL_S = 3600.0  # how often the worker runs it while idle


class Category(StrEnum):
    """What a retention rule applies to."""

    RECORDINGS = "recordings"  # spool files and their rows; clock: recorded
    TRANSCRIPTS = "transcripts"  # report text: transcript, answers, evidence quotes
    SCORES = "scores"  # reports with AI scores and overrides, evaluations
    DECISION_LOGS = "decision_logs"  # the pseudonymous AI decision log (ai_decision_log)
    CANDIDATE = "candidate"  # the person: name, contact, key; clock: last activity


@dataclass(frozen=True)
class Rule:
    """How long one category is kept in one region."""

    keep_days: int  # erased once older than this
    min_days: int  # never erased before this: a legal duty to keep (0: none)
    source: str

    def __post_init__(self) -> None:
        if self.keep_days < self.min_days:
            raise ValueError(f"kept {self.keep_days} days, under its minimum of {self.min_days}")


@dataclass(frozen=True)
class Deadline:
    """How long a data-subject request may take: calendar months, then days."""

    months: int
    days: int
    source: str


@dataclass(frozen=True)
class RegionRetention:
    """A region's retention profile."""

    region: str
    rules: Mapping[Category, Rule]
    request_deadline: Deadline


SIX_MONTHS = 183  # days; EU-5 reads "at least six months" as 183 days
THREE_YEARS = 3 * 365 + 1  # days, a leap day included
_STORAGE = "GDPR Art. 5(1)(e) storage limitation"
_BASE = "appliance default: six months"
_AI_ACT_LOGS = "AI Act (EU) 2024/1689 Art. 26(6), Art. 19: logs kept at least six months (EU-5)"
_PIPL = "China PIPL"


def _profile(region: str, deadline: Deadline, **rules: Rule) -> RegionRetention:
    base = {
        Category.RECORDINGS: Rule(SIX_MONTHS, 0, _BASE),
        Category.TRANSCRIPTS: Rule(SIX_MONTHS, 0, _BASE),
        Category.SCORES: Rule(SIX_MONTHS, 0, _BASE),
        Category.DECISION_LOGS: Rule(SIX_MONTHS, SIX_MONTHS, f"{_BASE}, at least"),
        Category.CANDIDATE: Rule(SIX_MONTHS, 0, f"{_BASE} after the last activity"),
    }
    base.update({Category(name): rule for name, rule in rules.items()})
    return RegionRetention(region, base, deadline)


_EU_ITEM = Rule(SIX_MONTHS, 0, f"{_STORAGE}; six months covers claims under equal-treatment law")
_CN_ITEM = Rule(SIX_MONTHS, 0, f"{_PIPL} Art. 19: the shortest period the purpose needs")
_THIRTY_DAYS = Deadline(0, 30, "appliance default: 30 days")

PROFILES: dict[str, RegionRetention] = {
    "EU": _profile(
        "EU",
        Deadline(1, 0, "GDPR Art. 12(3): without undue delay, within one month of receipt"),
        recordings=_EU_ITEM,
        transcripts=_EU_ITEM,
        scores=_EU_ITEM,
        decision_logs=Rule(SIX_MONTHS, SIX_MONTHS, _AI_ACT_LOGS),
        candidate=Rule(SIX_MONTHS, 0, f"{_STORAGE}: six months after the last activity"),
    ),
    "US-NYC": _profile(
        "US-NYC",
        Deadline(0, 30, "NYC LL144: per the published policy; appliance default 30 days"),
        decision_logs=Rule(
            366, 366, "NYC LL144 (6 RCNY 5-301): a year of selection data for the yearly audit"
        ),
    ),
    "US-IL": _profile(
        "US-IL",
        Deadline(0, 30, "820 ILCS 42/15: destroyed within 30 days of a request, copies too"),
        recordings=Rule(SIX_MONTHS, 0, "820 ILCS 42/15: kept only as long as the evaluation needs"),
    ),
    "US-MD": _profile("US-MD", _THIRTY_DAYS),
    "CN": _profile(
        "CN",
        Deadline(0, 0, f"{_PIPL} Art. 50: requests handled without delay (due the same day)"),
        recordings=_CN_ITEM,
        transcripts=_CN_ITEM,
        scores=_CN_ITEM,
        decision_logs=Rule(
            THREE_YEARS,
            THREE_YEARS,
            f"{_PIPL} Art. 55-56: impact assessment records of automated decision-making"
            " kept at least three years (CN-4)",
        ),
        candidate=_CN_ITEM,
    ),
    DEFAULT_REGION: _profile(DEFAULT_REGION, _THIRTY_DAYS),
}


def profile_of(region: str) -> RegionRetention:
    """A region's profile (an unknown region gets the default one)."""
    return PROFILES.get(region, PROFILES[DEFAULT_REGION])


def effective_rule(category: Category, regions: Iterable[str]) -> Rule:
    """The stricter rule of several regions: the shortest keep, but never under any minimum."""
    rules = [profile_of(region).rules[category] for region in set(regions) or {DEFAULT_REGION}]
    minimum = max(rule.min_days for rule in rules)
    keep = max(min(rule.keep_days for rule in rules), minimum)
    sources = "; ".join(sorted({rule.source for rule in rules}))
    return Rule(keep, minimum, sources)


def shortest_keep(category: Category) -> int:
    """The fewest days any combination of regions keeps a category (the earliest cut-off)."""
    return min(profile.rules[category].keep_days for profile in PROFILES.values())


def expired(category: Category, regions: Iterable[str], made_at: str, now: datetime) -> bool:
    """Whether an item made at `made_at` is past the stricter rule of its regions."""
    rule = effective_rule(category, regions)
    return from_stamp(made_at) < now - timedelta(days=rule.keep_days)


def _add_months(day: date, months: int) -> date:
    # The same date `months` later; the month's last day when it has no such date.
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def request_due(received_at: datetime, regions: Iterable[str]) -> datetime:
    """The end (UTC) of the day a request must be answered by: the earliest region's."""
    received = received_at.astimezone(UTC).date()
    days = []
    for region in set(regions) or {DEFAULT_REGION}:
        deadline = profile_of(region).request_deadline
        days.append(_add_months(received, deadline.months) + timedelta(days=deadline.days))
    return datetime.combine(min(days), time.max, UTC)


def request_deadline_sources(regions: Iterable[str]) -> list[str]:
    """The legal sources of the request deadlines that apply."""
    return sorted({profile_of(r).request_deadline.source for r in set(regions) or {"default"}})


# --- the retention job -------------------------------------------------------------------------

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


def run_retention(store: Store, spool: Spool, now: datetime | None = None) -> RetentionSummary:
    """Erase every item past its region's retention (ALL-2); held candidates are left alone."""
    # appliance.erasure imports this module's policy table, so its functions are taken here.
    from appliance.erasure import LegalHoldError, erase_for_retention, finish_erasure

    now = now or utcnow()
    summary = RetentionSummary(to_stamp(now))
    holds, erasures = LegalHoldRepository(store), ErasureRepository(store)
    aged, logs = RetentionRepository(store), DecisionLogRepository(store)
    held = holds.held_candidates()

    for erasure in erasures.pending():
        if finish_erasure(store, spool, erasure):
            summary.counts["erasures_finished"] += 1

    # Whole candidates first: what they take with them is not erased item by item below.
    idle, kept = _due(
        aged.idle_candidates(_cutoff(Category.CANDIDATE, now)), Category.CANDIDATE, now, held
    )
    summary.skipped_on_hold += kept
    for (candidate_id, pseudonym), items in idle.items():
        rule = effective_rule(Category.CANDIDATE, items[0].regions)
        try:
            erase_for_retention(
                store,
                spool,
                candidate_id,
                f"retention: no activity for {rule.keep_days} days ({rule.source})",
            )
        except LegalHoldError:  # placed since the holds were read
            summary.skipped_on_hold += 1
            continue
        summary.erased_candidates.append(pseudonym)
        summary.counts[Category.CANDIDATE.value] += 1

    recordings, kept = _due(
        aged.recordings_before(_cutoff(Category.RECORDINGS, now)), Category.RECORDINGS, now, held
    )
    summary.skipped_on_hold += kept
    for (_candidate_id, pseudonym), items in recordings.items():
        with store.transaction():
            for item in items:
                aged.delete_recording(item.id)
            rule = effective_rule(Category.RECORDINGS, items[0].regions)
            _log(store, pseudonym, Category.RECORDINGS, len(items), rule.keep_days)
        for item in items:
            if item.spool_name:
                spool.remove(item.spool_name)
        summary.counts[Category.RECORDINGS.value] += len(items)

    report_items = aged.reports_before(_cutoff(Category.TRANSCRIPTS, now))
    scores, kept = _due(report_items, Category.SCORES, now, held)
    summary.skipped_on_hold += kept
    evaluations, kept = _due(
        aged.evaluations_before(_cutoff(Category.SCORES, now)), Category.SCORES, now, held
    )
    summary.skipped_on_hold += kept
    for owner in sorted(set(scores) | set(evaluations)):
        reports, evals = scores.get(owner, []), evaluations.get(owner, [])
        with store.transaction():
            for item in reports:
                aged.delete_report(item.id)
            for item in evals:
                aged.delete_evaluation(item.id)
            rule = effective_rule(Category.SCORES, (reports or evals)[0].regions)
            _log(store, owner[1], Category.SCORES, len(reports) + len(evals), rule.keep_days)
        summary.counts[Category.SCORES.value] += len(reports) + len(evals)

    deleted = {item.id for items in scores.values() for item in items}
    transcripts, kept = _due(
        [item for item in report_items if item.id not in deleted], Category.TRANSCRIPTS, now, held
    )
    summary.skipped_on_hold += kept
    for (_candidate_id, pseudonym), items in transcripts.items():
        stripped = 0
        with store.transaction():
            for item in items:
                content = store.reports.get(item.id).content
                if content.get("erased") or TRANSCRIPT_ERASED in content:
                    continue
                store.reports.replace_content(item.id, strip_text(content, summary.at))
                stripped += 1
            if stripped:
                rule = effective_rule(Category.TRANSCRIPTS, items[0].regions)
                _log(store, pseudonym, Category.TRANSCRIPTS, stripped, rule.keep_days)
        if stripped:
            summary.counts[Category.TRANSCRIPTS.value] += stripped

    held_pseudonyms = set(held.values())
    due_logs: dict[str, list[int]] = {}
    for entry in logs.created_before(_cutoff(Category.DECISION_LOGS, now)):
        if not expired(Category.DECISION_LOGS, entry.regions, entry.created_at, now):
            continue
        if entry.pseudonym in held_pseudonyms:
            summary.skipped_on_hold += 1
            continue
        due_logs.setdefault(entry.pseudonym, []).append(entry.id)
    if due_logs:
        with store.transaction():
            for pseudonym, ids in due_logs.items():
                removed = logs.delete(ids)
                logs.record_purge(
                    pseudonym, removed, reason="retention", override=False, purged_by=None
                )
                store.audit.append(
                    RETENTION_ACTOR,
                    "decision_log.purged",
                    subject=pseudonym,
                    details={"entries": removed, "override": False},
                )
                summary.counts[Category.DECISION_LOGS.value] += removed

    if not summary.nothing_done:
        logger.info("retention erased %s", dict(summary.counts))
    return summary


def retention_chore(store: Store, config: ApplianceConfig, spool: Spool) -> RetentionSummary:
    """`run_retention` in the shape of a worker chore (appliance.worker.PERIODIC)."""
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
