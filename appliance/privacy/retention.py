"""Retention (ALL-2): how long each region keeps what (the job that erases it: `retention_job`).

`PROFILES` is data: per region, per category, how long an item is kept (`keep_days`), the
minimum a law obliges us to keep it (`min_days`), and the legal source; plus the deadline for
answering a data-subject request. Where several regions apply to an item (the requisition's
region and the candidate's residence), the stricter rule wins: the shortest keep, unless some
region obliges a longer minimum (a duty to keep outranks a wish to delete: GDPR Art. 17(3)(b)).

"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from appliance.platform.clock import from_stamp

DEFAULT_REGION = "default"
RETENTION_ACTOR = "retention"
RETENTION_INTERVAL_S = 3600.0  # how often the worker runs it while idle


class Category(StrEnum):
    """What a retention rule applies to."""

    RECORDINGS = "recordings"  # spool files and their rows; clock: recorded
    TRANSCRIPTS = "transcripts"  # report text: transcript, answers, evidence quotes
    SCORES = "scores"  # reports with AI scores and overrides, evaluations, coding rounds
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
