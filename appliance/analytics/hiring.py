"""Hiring analytics: the funnel, time to hire, scores against hiring and against what happened
after the hire (retention, probation, performance), and the validity of each competency's
score. Aggregates only; every figure carries its count and, where it is a rate or a mean, a 95 %
interval; a cell with fewer than `MIN_N` people says so instead of a figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from appliance.analysis.interview_scores import interview_scores
from appliance.analysis.report_facts import dimension_labels
from appliance.analytics.questions import QuestionRow, question_validity
from appliance.hiring.common import InvalidInputError, competency_model_of
from appliance.platform.clock import now_stamp, to_stamp, utcnow
from appliance.platform.stats import Correlation, Estimate, holm, mean_interval, spearman, wilson
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.analytics import Application
from appliance.store.outcomes import HireOutcome

MIN_N = 10  # fewer people than this in a cell: "not enough data", never a figure
BANDS = ((1.0, 3.0), (3.0, 5.0), (5.0, 7.0), (7.0, 9.0), (9.0, 10.01))
RETENTION_MONTHS = (6, 12)
SIGNIFICANCE = 0.05


def band_label(band: tuple[float, float]) -> str:
    """A score band, the same in every language: 1 en-dash <3, ..., 9 en-dash 10 (2.95 is in the
    first)."""
    low, high = band
    return f"{low:g}–10" if high > 10 else f"{low:g}–<{high:g}"  # noqa: RUF001 - an en dash


def band_of(score: float) -> int:
    """The index of the band a score falls in."""
    for index, (low, high) in enumerate(BANDS):
        if low <= score < high:
            return index
    return 0 if score < BANDS[0][0] else len(BANDS) - 1


@dataclass(frozen=True)
class Person:
    """One candidate x job as the analytics count them."""

    application: Application
    score: float | None  # the interview's overall score now (people's changes applied)
    ai: dict[str, float]  # the AI's score per competency key
    outcome: HireOutcome | None

    @property
    def hired(self) -> bool:
        """Whether the job's latest decision is a hire."""
        return self.application.decided == "hire"


@dataclass(frozen=True)
class FunnelRow:
    """One job's (or department's) funnel."""

    label: str
    department: str
    applied: int
    interviewed: int
    advanced: int
    hired: int
    days_to_hire: float | None  # median, from the first interview to the hire decision
    days_quartiles: tuple[float, float] | None


@dataclass(frozen=True)
class BandRow:
    """A score band: how many people, and the rate (or mean) of an outcome among them."""

    band: str
    n: int
    estimate: Estimate | None  # None: fewer than MIN_N people


@dataclass(frozen=True)
class ValidityRow:
    """Does a competency's AI score predict an outcome among the people hired?"""

    key: str
    names: dict[str, str]
    outcome: str  # performance | retention_12
    correlation: Correlation | None  # None: fewer than MIN_N people or no spread
    p_adjusted: float | None = None

    @property
    def predicts(self) -> bool | None:
        """True/False once tested (Holm-adjusted p < 0.05); None when not enough data."""
        return None if self.p_adjusted is None else self.p_adjusted < SIGNIFICANCE


@dataclass(frozen=True)
class Analytics:
    """Everything the analytics page shows."""

    generated_at: str
    period: tuple[str | None, str | None]
    people: int
    by_job: list[FunnelRow]
    by_department: list[FunnelRow]
    score_histogram: list[BandRow]  # n only
    hire_rate: list[BandRow]  # hired among those decided, per band
    retention: dict[int, list[BandRow]]  # months -> still employed after that many months
    probation: list[BandRow]  # passed among probation results known
    performance: list[BandRow]  # mean rating (1-5) per band
    validity: list[ValidityRow] = field(default_factory=list)
    questions: list[QuestionRow] = field(default_factory=list)
    min_n: int = MIN_N


def _interview_scores(store: Store, interview_id: int) -> tuple[float | None, dict[str, float]]:
    scores = interview_scores(store, store.interviews.get(interview_id))
    weights: dict[str, float] = {}
    for dim in (scores.scoring or {}).get("dimensions", []) or []:
        if isinstance(dim, dict) and dim.get("key"):
            weight = dim.get("weight")
            weights[str(dim["key"])] = float(weight) if isinstance(weight, int | float) else 0.0
    current = [(weights.get(k, 0.0), v) for k, v in scores.current.items() if v is not None]
    total = sum(weight for weight, _ in current)
    overall = sum(w * v for w, v in current) / total if total > 0 else None
    ai = {key: value for key, value in scores.ai.items() if value is not None}
    return overall, ai


def collect(
    store: Store, principal: Principal, *, start: str | None = None, end: str | None = None
) -> list[Person]:
    """Everyone in the viewer's reach who was interviewed for a job in the period."""
    visibility = require(principal, Action.VIEW_ANALYTICS)
    applications = store.analytics.applications(visibility, start=start, end=end)
    outcomes = {
        (o.candidate_id, o.requisition_id): o
        for o in store.outcomes.for_requisitions(sorted({a.requisition_id for a in applications}))
    }
    people = []
    for application in applications:
        score, ai = (
            _interview_scores(store, application.analysed_interview)
            if application.analysed_interview is not None
            else (None, {})
        )
        key = (application.candidate_id, application.requisition_id)
        people.append(Person(application, score, ai, outcomes.get(key)))
    return people


def _days(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 86400


def _funnel(label: str, department: str, people: list[Person]) -> FunnelRow:
    days = sorted(
        _days(p.application.applied_at, p.application.decided_at or p.application.applied_at)
        for p in people
        if p.hired
    )
    quartiles = None
    if len(days) >= 4:
        cuts = statistics.quantiles(days, n=4)
        quartiles = (cuts[0], cuts[2])
    return FunnelRow(
        label,
        department,
        len(people),
        sum(p.application.interviewed for p in people),
        sum(p.application.advanced for p in people),
        sum(p.hired for p in people),
        statistics.median(days) if days else None,
        quartiles,
    )


def _grouped(people: Iterable[Person], key: str) -> dict[tuple[str, str], list[Person]]:
    groups: dict[tuple[str, str], list[Person]] = {}
    for person in people:
        app = person.application
        name = (
            (f"{app.title} (#{app.requisition_id})", app.department)
            if key == "job"
            else (app.department, app.department)
        )
        groups.setdefault(name, []).append(person)
    return groups


def _rate_bands(pairs: list[tuple[float, bool]]) -> list[BandRow]:
    rows = []
    for index, band in enumerate(BANDS):
        inside = [hit for score, hit in pairs if band_of(score) == index]
        estimate = wilson(sum(inside), len(inside)) if len(inside) >= MIN_N else None
        rows.append(BandRow(band_label(band), len(inside), estimate))
    return rows


def _mean_bands(pairs: list[tuple[float, float]]) -> list[BandRow]:
    rows = []
    for index, band in enumerate(BANDS):
        inside = [value for score, value in pairs if band_of(score) == index]
        estimate = mean_interval(inside) if len(inside) >= MIN_N else None
        rows.append(BandRow(band_label(band), len(inside), estimate))
    return rows


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it is shorter)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError("no such date")  # pragma: no cover - every month has a 28th


def retained(outcome: HireOutcome, months: int, today: date) -> bool | None:
    """Still employed `months` after the start (None: not known yet, or no start date).

    Nobody counts before the mark has passed, leavers included: counting early leavers at
    once while stayers wait would bias a recent cohort towards leaving. Leaving on the mark
    itself (the last day worked) counts as retained."""
    if outcome.start_date is None:
        return None
    mark = add_months(date.fromisoformat(outcome.start_date), months)
    if mark > today:
        return None
    return outcome.left_on is None or date.fromisoformat(outcome.left_on) >= mark


def mean_rating(outcome: HireOutcome) -> float | None:
    """The mean of a person's performance ratings (None without any)."""
    ratings = [r.rating for r in outcome.ratings]
    return sum(ratings) / len(ratings) if ratings else None


def _validity(store: Store, hires: list[Person], today: date) -> list[ValidityRow]:
    labels: dict[str, dict[str, str]] = {}
    for person in hires:
        for key in person.ai:
            if key not in labels:
                spec = competency_model_of(
                    store, store.requisitions.get(person.application.requisition_id)
                )
                names = dimension_labels(spec).get(key, {}).get("names")
                labels[key] = dict(names) if names else {"en": key, "zh": key}
    rows: list[ValidityRow] = []
    for key in sorted(labels, key=lambda k: labels[k].get("en", k)):
        for outcome_name in ("performance", "retention_12"):
            pairs: list[tuple[float, float]] = []
            for person in hires:
                if key not in person.ai or person.outcome is None:
                    continue
                if outcome_name == "performance":
                    value = mean_rating(person.outcome)
                else:
                    kept = retained(person.outcome, 12, today)
                    value = None if kept is None else float(kept)
                if value is not None:
                    pairs.append((person.ai[key], value))
            correlation = (
                spearman([p[0] for p in pairs], [p[1] for p in pairs])
                if len(pairs) >= MIN_N
                else None
            )
            rows.append(ValidityRow(key, labels[key], outcome_name, correlation))
    tested = [i for i, row in enumerate(rows) if row.correlation is not None]
    adjusted = holm([rows[i].correlation.p_value for i in tested])  # type: ignore[union-attr]
    for index, p in zip(tested, adjusted, strict=True):
        row = rows[index]
        rows[index] = ValidityRow(row.key, row.names, row.outcome, row.correlation, p)
    return rows


def summarise(
    people: list[Person],
    store: Store,
    *,
    period: tuple[str | None, str | None] = (None, None),
    today: date | None = None,
) -> Analytics:
    """The analytics of a list of people (the page's figures)."""
    today = today or utcnow().date()
    by_job = [
        _funnel(label, department, group)
        for (label, department), group in sorted(_grouped(people, "job").items())
    ]
    by_department = [
        _funnel(label, department, group)
        for (label, department), group in sorted(_grouped(people, "department").items())
    ]
    scored = [p for p in people if p.score is not None]
    histogram = [
        BandRow(band_label(band), sum(band_of(p.score or 0) == i for p in scored), None)
        for i, band in enumerate(BANDS)
    ]
    # Only final decisions: someone advanced is still in the process, not "not hired".
    decided = [
        (p.score or 0.0, p.hired) for p in scored if p.application.decided in ("hire", "reject")
    ]
    hires = [p for p in scored if p.hired and p.outcome is not None]
    retention = {}
    for months in RETENTION_MONTHS:
        pairs = []
        for person in hires:
            assert person.outcome is not None
            kept = retained(person.outcome, months, today)
            if kept is not None:
                pairs.append((person.score or 0.0, kept))
        retention[months] = _rate_bands(pairs)
    probation = [
        (p.score or 0.0, p.outcome.probation == "passed")
        for p in hires
        if p.outcome is not None and p.outcome.probation in ("passed", "failed")
    ]
    performance = [
        (p.score or 0.0, rating)
        for p in hires
        if p.outcome is not None and (rating := mean_rating(p.outcome)) is not None
    ]
    everyone_hired = [p for p in people if p.hired and p.outcome is not None]
    return Analytics(
        now_stamp(),
        period,
        len(people),
        by_job,
        by_department,
        histogram,
        _rate_bands(decided),
        retention,
        _rate_bands(probation),
        _mean_bands(performance),
        _validity(store, everyone_hired, today),
        question_validity(
            (
                (p.application.analysed_interview, rating)
                for p in everyone_hired
                if p.outcome is not None
                and p.application.analysed_interview is not None
                and (rating := mean_rating(p.outcome)) is not None
            ),
            store,
        ),
    )


def period_of_days(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """Store stamps [start, end) from the first and last day (YYYY-MM-DD, both included)."""
    stamps: list[str | None] = []
    for text, extra in ((start, 0), (end, 1)):
        text = (text or "").strip()
        if not text:
            stamps.append(None)
            continue
        try:
            day = date.fromisoformat(text) + timedelta(days=extra)
        except ValueError:
            raise InvalidInputError([f"{text!r} is not a date (YYYY-MM-DD)"]) from None
        stamps.append(to_stamp(datetime(day.year, day.month, day.day, tzinfo=UTC)))
    return stamps[0], stamps[1]


def hiring_analytics(
    store: Store, principal: Principal, *, start: str | None = None, end: str | None = None
) -> Analytics:
    """The analytics of the viewer's reach for people interviewed in [start, end)."""
    people = collect(store, principal, start=start, end=end)
    return summarise(people, store, period=(start, end))


__all__ = [
    "BANDS",
    "MIN_N",
    "Analytics",
    "BandRow",
    "FunnelRow",
    "Person",
    "ValidityRow",
    "add_months",
    "band_label",
    "band_of",
    "collect",
    "hiring_analytics",
    "mean_rating",
    "period_of_days",
    "retained",
    "summarise",
]
