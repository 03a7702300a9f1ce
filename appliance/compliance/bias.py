"""Bias audits: NY-2 impact ratios, the ALL-1 four-fifths check and NY-3 publishable summaries
(the IL-4 annual race/ethnicity report: `appliance.compliance.illinois`).

Rates and ratios are exact fractions, so a ratio of exactly 0.80 is never flagged because of
floating-point rounding (in floats, 0.08 / 0.10 is 0.7999999999999999). Fisher's exact test is
computed from the hypergeometric distribution with `math.comb` (no scipy on the appliance).
Selection outcomes come from people's decisions (advance or hire = selected); scores from the
reports' scores with human overrides applied (`appliance.hiring.review.current_scores`); the
categories from what candidates declared, in the room or on paper (`appliance.compliance.self_id`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import exp, fsum, lgamma, log1p
from typing import Any

from appliance.compliance.common import ComplianceError, require_region
from appliance.hiring.review import current_scores
from appliance.platform.clock import utcnow
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal
from appliance.store import Store
from appliance.store.bias_audits import AssessedPerson, PublishedAudit
from appliance.store.compliance import compliance_of

SEX = "sex"
RACE = "race_ethnicity"
INTERSECTION = "intersection"
DIMENSIONS = (SEX, RACE, INTERSECTION)
SELECTION = "selection"
SCORING = "scoring"
# EEO-1 categories, as LL144 audits and the Illinois report use them.
SEX_CATEGORIES = ("Male", "Female")
RACE_CATEGORIES = (
    "Hispanic or Latino",
    "White",
    "Black or African American",
    "Native Hawaiian or Pacific Islander",
    "Asian",
    "Native American or Alaska Native",
    "Two or More Races",
)
FOUR_FIFTHS = Fraction(4, 5)  # ALL-1: flagged below this, not at it
EXCLUDABLE_SHARE = Fraction(2, 100)  # NY-2: a category under 2 % of the data may be excluded
# What the 2 % is a share of. 6 RCNY 5-301(d) lets the auditor exclude "a category that
# represents less than 2% of the data being used for the bias audit" from the impact ratios:
# that data is every assessed individual, those of unknown category included (the rule counts
# them in the summary, and the scoring median is over the full sample), so ALL is the default
# and what every summary published before the choice existed used. KNOWN (only people who
# declared a category in the dimension) is the stricter reading: larger shares, fewer
# exclusions.
BASE_ALL = "all"
BASE_KNOWN = "known"
EXCLUSION_BASES = (BASE_ALL, BASE_KNOWN)
DEFAULT_EXCLUSION_BASE = BASE_ALL
LEGACY_EXCLUSION_BASE = BASE_ALL  # summaries stored without the field were computed so
SIGNIFICANCE = 0.05
UNDEFINED = "undefined"
EXCLUDED = "excluded"
DEFAULT_SOURCE = "historical data of this appliance (AI reports and people's decisions)"


class BiasAuditError(ComplianceError):
    """A bias audit cannot be computed or published as asked."""


@dataclass(frozen=True)
class Person:
    """One assessed individual, as the audit sees them (no identity)."""

    sex: str | None
    race_ethnicity: str | None
    selected: bool
    score: float | None = None


def category_of(person: Person, dimension: str) -> str | None:
    """The person's category in a dimension (None: unknown)."""
    if dimension == SEX:
        return person.sex
    if dimension == RACE:
        return person.race_ethnicity
    if dimension == INTERSECTION:
        if person.sex is None or person.race_ethnicity is None:
            return None
        return f"{person.race_ethnicity} · {person.sex}"
    raise BiasAuditError(said("unknown dimension %(dimension)s", dimension=repr(dimension)))


def _log_comb(n: int, k: int) -> float:
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the 2x2 table [[a, b], [c, d]].

    Rows are the two groups, columns positive/negative outcomes. Sums the hypergeometric
    probabilities of every table with the same margins that is no more likely than the one
    observed, as R and scipy define the two-sided test. The probabilities are computed in log
    space (exact integers grew 4-7x slower per doubling of the sample and timed out on real
    audits of thousands of people): three groups of 10 000 take milliseconds.
    """
    if min(a, b, c, d) < 0:
        raise ValueError("counts cannot be negative")
    row1, row2, col1 = a + b, c + d, a + c
    total = row1 + row2
    if total == 0:
        return 1.0
    low, high = max(0, col1 - row2), min(row1, col1)
    denominator = _log_comb(total, col1)

    def log_p(x: int) -> float:
        return _log_comb(row1, x) + _log_comb(row2, col1 - x) - denominator

    observed = log_p(a)
    # A relative tolerance of 1e-7, as scipy uses, keeps tables that tie with the observed
    # one but differ by rounding.
    limit = observed + log1p(1e-7)
    tail = fsum(exp(lp) for lp in (log_p(x) for x in range(low, high + 1)) if lp <= limit)
    return min(1.0, tail)


@dataclass(frozen=True)
class GroupResult:
    """One category's row of an impact-ratio table."""

    category: str
    count: int
    positives: int
    rate: Fraction | None
    impact_ratio: Fraction | None
    share: Fraction  # of the whole sample, unknown included
    excludable: bool  # under 2 % of the table's exclusion base (NY-2)
    excluded: bool  # left out of the ratios (its count and rate are still shown)
    flagged: bool  # ALL-1: impact ratio below 0.80
    fisher_p: float | None  # against the category with the highest rate
    small_sample: bool  # flagged, but the difference is not significant (Fisher p >= 0.05)
    undefined: bool  # the highest rate is 0: no ratio exists

    @property
    def ratio_text(self) -> str:
        """The ratio as a report shows it: `0.750`, `undefined` or `excluded`."""
        if self.excluded:
            return EXCLUDED
        if self.undefined or self.impact_ratio is None:
            return UNDEFINED
        return f"{float(self.impact_ratio):.3f}"

    @property
    def rate_text(self) -> str:
        """The rate with three decimals (`-` for an empty category)."""
        return "-" if self.rate is None else f"{float(self.rate):.3f}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (rates and ratios as rounded numbers and exact fractions)."""
        return {
            "category": self.category,
            "count": self.count,
            "positives": self.positives,
            "rate": None if self.rate is None else round(float(self.rate), 4),
            "impact_ratio": (
                None if self.impact_ratio is None else round(float(self.impact_ratio), 4)
            ),
            "impact_ratio_text": self.ratio_text,
            "exact_rate": None if self.rate is None else str(self.rate),
            "exact_impact_ratio": None if self.impact_ratio is None else str(self.impact_ratio),
            "share": round(float(self.share), 4),
            "excludable": self.excludable,
            "excluded": self.excluded,
            "flagged": self.flagged,
            "fisher_p": None if self.fisher_p is None else round(self.fisher_p, 6),
            "small_sample": self.small_sample,
        }


@dataclass(frozen=True)
class ImpactTable:
    """Impact ratios of one dimension for one outcome."""

    dimension: str
    outcome: str
    groups: tuple[GroupResult, ...]
    unknown: int  # individuals of unknown category: counted, excluded from the ratios
    total: int  # individuals in the table, unknown included
    undefined: bool  # the highest rate is 0
    median: float | None = None  # the scoring outcome's median of all scores
    exclusion_base: str = DEFAULT_EXCLUSION_BASE  # what "under 2 %" is a share of
    exclusion_denominator: int = 0  # how many people that base holds

    def group(self, category: str) -> GroupResult:
        """One category's row."""
        for result in self.groups:
            if result.category == category:
                return result
        raise KeyError(category)

    @property
    def flagged(self) -> list[GroupResult]:
        """Rows below four fifths."""
        return [result for result in self.groups if result.flagged]

    @property
    def excluded(self) -> list[GroupResult]:
        """Rows left out of the ratios (their counts and rates are still reported)."""
        return [result for result in self.groups if result.excluded]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "dimension": self.dimension,
            "outcome": self.outcome,
            "unknown": self.unknown,
            "total": self.total,
            "undefined": self.undefined,
            "median": self.median,
            "exclusion_base": self.exclusion_base,
            "exclusion_denominator": self.exclusion_denominator,
            "groups": [result.as_dict() for result in self.groups],
        }


def impact_table(
    counts: Mapping[str, tuple[int, int]],
    *,
    unknown: int = 0,
    dimension: str = "",
    outcome: str = SELECTION,
    exclude_small: bool = False,
    median: float | None = None,
    exclusion_base: str = DEFAULT_EXCLUSION_BASE,
) -> ImpactTable:
    """Rates and impact ratios from `{category: (positives, count)}`.

    `rate = positives / count`, `impact_ratio = rate / max rate` (undefined when the highest
    rate is 0); a ratio below 0.80 is flagged, with Fisher's exact test against the category
    of the highest rate. A category under 2 % of the exclusion base (`all`: the sample,
    unknown included; `known`: those of a known category) is marked excludable, and left out
    of the ratios when `exclude_small`; exactly 2 % is not under it.
    """
    if exclusion_base not in EXCLUSION_BASES:
        # said() formats with %, so the literal percent sign is doubled.
        raise BiasAuditError(
            said("the 2 %% is a share of one of: %(bases)s", bases=", ".join(EXCLUSION_BASES))
        )
    known = sum(count for _, count in counts.values())
    total = known + unknown
    denominator = total if exclusion_base == BASE_ALL else known
    prepared = []
    for category, (positives, count) in counts.items():
        if count < 0 or not 0 <= positives <= count:
            raise BiasAuditError(
                said(
                    "impossible counts for %(category)s: %(positives)s/%(count)s",
                    category=repr(category),
                    positives=positives,
                    count=count,
                )
            )
        share = Fraction(count, total) if total else Fraction(0)
        excludable = denominator > 0 and Fraction(count, denominator) < EXCLUDABLE_SHARE
        rate = Fraction(positives, count) if count else None
        prepared.append((category, count, positives, rate, share, excludable))
    compared = [row for row in prepared if row[3] is not None and not (exclude_small and row[5])]
    top = max(compared, key=lambda row: (row[3], row[1]), default=None)
    max_rate = top[3] if top is not None else None
    undefined = max_rate is None or max_rate == 0
    groups = []
    for category, count, positives, rate, share, excludable in prepared:
        excluded = exclude_small and excludable
        ratio: Fraction | None = None
        p_value: float | None = None
        if not undefined and not excluded and rate is not None and max_rate is not None:
            ratio = rate / max_rate
            if top is not None and category != top[0]:
                p_value = fisher_exact(positives, count - positives, top[2], top[1] - top[2])
        flagged = ratio is not None and ratio < FOUR_FIFTHS
        groups.append(
            GroupResult(
                category,
                count,
                positives,
                rate,
                ratio,
                share,
                excludable,
                excluded,
                flagged,
                p_value,
                flagged and p_value is not None and p_value >= SIGNIFICANCE,
                undefined and not excluded,
            )
        )
    return ImpactTable(
        dimension,
        outcome,
        tuple(groups),
        unknown,
        total,
        undefined,
        median,
        exclusion_base,
        denominator,
    )


def four_fifths(counts: Mapping[str, tuple[int, int]], *, unknown: int = 0) -> ImpactTable:
    """ALL-1: the four-fifths check over `{group: (selected, applicants)}`."""
    return impact_table(counts, unknown=unknown, dimension="group", outcome=SELECTION)


def _tally(
    people: Iterable[Person], dimension: str, positive: Callable[[Person], bool]
) -> tuple[dict[str, tuple[int, int]], int]:
    counts: dict[str, list[int]] = {}
    unknown = 0
    for person in people:
        category = category_of(person, dimension)
        if category is None:
            unknown += 1
            continue
        tally = counts.setdefault(category, [0, 0])
        tally[0] += int(positive(person))
        tally[1] += 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1][1], item[0]))
    return {category: (pos, n) for category, (pos, n) in ordered}, unknown


def selection_tables(
    people: list[Person],
    *,
    exclude_small: bool = False,
    exclusion_base: str = DEFAULT_EXCLUSION_BASE,
) -> list[ImpactTable]:
    """NY-2 selection rates and impact ratios per sex, race/ethnicity and their intersection."""
    tables = []
    for dimension in DIMENSIONS:
        counts, unknown = _tally(people, dimension, lambda p: p.selected)
        tables.append(
            impact_table(
                counts,
                unknown=unknown,
                dimension=dimension,
                outcome=SELECTION,
                exclude_small=exclude_small,
                exclusion_base=exclusion_base,
            )
        )
    return tables


def scoring_tables(
    people: list[Person],
    *,
    exclude_small: bool = False,
    exclusion_base: str = DEFAULT_EXCLUSION_BASE,
) -> list[ImpactTable]:
    """NY-2 scoring rates (share strictly above the median of all scores) and impact ratios."""
    scored = [person for person in people if person.score is not None]
    if not scored:
        return []
    median = float(statistics.median(float(p.score or 0.0) for p in scored))
    tables = []
    for dimension in DIMENSIONS:
        counts, unknown = _tally(scored, dimension, lambda p: (p.score or 0.0) > median)
        tables.append(
            impact_table(
                counts,
                unknown=unknown,
                dimension=dimension,
                outcome=SCORING,
                exclude_small=exclude_small,
                median=median,
                exclusion_base=exclusion_base,
            )
        )
    return tables


# --- from the store ------------------------------------------------------------------------


def overall_score(store: Store, report_ids: Iterable[int]) -> float | None:
    """The mean of the latest scored report's scores (human overrides applied)."""
    for report_id in sorted(report_ids, reverse=True):
        scores = current_scores(store, report_id)
        if scores:
            return sum(scores.values()) / len(scores)
    return None


def _person(store: Store, assessed: AssessedPerson) -> Person:
    return Person(
        assessed.sex,
        assessed.race_ethnicity,
        assessed.selected,
        overall_score(store, assessed.report_ids),
    )


def collect_people(
    store: Store,
    regions: list[str],
    start: str | None = None,
    end: str | None = None,
    *,
    admit: Callable[[list[int]], Collection[int]] | None = None,
) -> list[Person]:
    """Everyone the AI assessed for jobs in `regions` (report time in [start, end)).

    `admit`, given the candidate ids, returns those that may be counted (an export's CN-3
    rule); the categories stay here, whoever asks only learns ids.
    """
    assessed = compliance_of(store).demographics.assessed(regions, start, end)
    if admit is not None:
        allowed = set(admit([person.candidate_id for person in assessed]))
        assessed = [person for person in assessed if person.candidate_id in allowed]
    return [_person(store, person) for person in assessed]


@dataclass(frozen=True)
class AuditSummary:
    """NY-3: what can be published about a bias audit."""

    region: str
    audit_date: str
    data_source: str
    period_start: str | None
    period_end: str | None
    individuals: int
    unknown: dict[str, int]
    selection: tuple[ImpactTable, ...]
    scoring: tuple[ImpactTable, ...]
    exclude_small: bool
    exclusion_base: str = DEFAULT_EXCLUSION_BASE

    @property
    def flagged(self) -> list[tuple[ImpactTable, GroupResult]]:
        """Every flagged row (ALL-1) of every table."""
        return [
            (table, row)
            for table in (*self.selection, *self.scoring)
            for row in table.groups
            if row.flagged
        ]

    @property
    def excluded(self) -> list[tuple[ImpactTable, GroupResult]]:
        """Every row left out of the ratios, with its table (its count is still published)."""
        return [
            (table, row) for table in (*self.selection, *self.scoring) for row in table.excluded
        ]

    def as_dict(self) -> dict[str, Any]:
        """The publishable summary: audit date, source, individuals, rates, ratios, unknowns."""
        return {
            "region": self.region,
            "audit_date": self.audit_date,
            "data_source": self.data_source,
            "period": {"start": self.period_start, "end": self.period_end},
            "individuals": self.individuals,
            "unknown": dict(self.unknown),
            "exclude_small_categories": self.exclude_small,
            "exclusion_base": self.exclusion_base,
            "excludable_share": float(EXCLUDABLE_SHARE),
            # 6 RCNY 5-301(d): the number of applicants and the rate of every excluded category.
            "excluded_categories": [
                {
                    "outcome": table.outcome,
                    "dimension": table.dimension,
                    "category": row.category,
                    "count": row.count,
                    "rate": None if row.rate is None else round(float(row.rate), 4),
                }
                for table, row in self.excluded
            ],
            "four_fifths_threshold": float(FOUR_FIFTHS),
            "selection": [table.as_dict() for table in self.selection],
            "scoring": [table.as_dict() for table in self.scoring],
        }


def compute_summary(
    people: list[Person],
    *,
    region: str,
    audit_date: date | None = None,
    data_source: str = DEFAULT_SOURCE,
    period_start: str | None = None,
    period_end: str | None = None,
    exclude_small: bool = False,
    exclusion_base: str = DEFAULT_EXCLUSION_BASE,
) -> AuditSummary:
    """The audit over a list of people (no store needed)."""
    selection = selection_tables(people, exclude_small=exclude_small, exclusion_base=exclusion_base)
    scoring = scoring_tables(people, exclude_small=exclude_small, exclusion_base=exclusion_base)
    return AuditSummary(
        region,
        (audit_date or utcnow().date()).isoformat(),
        data_source,
        period_start,
        period_end,
        len(people),
        {table.dimension: table.unknown for table in selection},
        tuple(selection),
        tuple(scoring),
        exclude_small,
        exclusion_base,
    )


def _source(data_source: str) -> str:
    text = (data_source or "").strip()
    if not text or len(text) > 500:
        raise BiasAuditError(said("name the data source (1 to 500 characters)"))
    return text


def bias_audit(
    store: Store,
    principal: Principal,
    *,
    region: str,
    start: str | None = None,
    end: str | None = None,
    data_source: str = DEFAULT_SOURCE,
    exclude_small: bool = False,
    audit_date: date | None = None,
    exclusion_base: str = DEFAULT_EXCLUSION_BASE,
) -> AuditSummary:
    """The audit of a region's AI assessments, for a person who may view bias audits there."""
    require_region(principal, Action.VIEW_BIAS_AUDIT, region)
    people = collect_people(store, [region], start, end)
    summary = compute_summary(
        people,
        region=region,
        audit_date=audit_date,
        data_source=_source(data_source),
        period_start=start,
        period_end=end,
        exclude_small=exclude_small,
        exclusion_base=exclusion_base,
    )
    with store.transaction():
        store.audit.append(
            principal.actor,
            "bias_audit.viewed",
            details={"region": region, "individuals": summary.individuals},
        )
    return summary


def publish_audit(store: Store, principal: Principal, summary: AuditSummary) -> PublishedAudit:
    """NY-3: keep the summary as published (it counts for NY's one-year rule)."""
    require_region(principal, Action.VIEW_BIAS_AUDIT, summary.region)
    with store.audited(principal.actor, "bias_audit.published") as entry:
        published = compliance_of(store).bias_audits.add(
            summary.region,
            summary.audit_date,
            _source(summary.data_source),
            summary.as_dict(),
            principal.user_id,
        )
        entry.details.update(
            audit=published.id,
            region=summary.region,
            audit_date=summary.audit_date,
            individuals=summary.individuals,
            exclude_small=summary.exclude_small,
            exclusion_base=summary.exclusion_base,
        )
    return published


def exclusion_base_of(summary: Mapping[str, Any]) -> str:
    """What a published summary's "under 2 %" was a share of (older ones recorded none)."""
    base = summary.get("exclusion_base")
    return str(base) if base in EXCLUSION_BASES else LEGACY_EXCLUSION_BASE


def published_audits(store: Store, principal: Principal, region: str) -> list[PublishedAudit]:
    """A region's published audits, newest first."""
    require_region(principal, Action.VIEW_BIAS_AUDIT, region)
    return compliance_of(store).bias_audits.for_region(region)
