"""Hiring analytics (issue 17, items 3 and 4): the funnel, time to hire, score bands against
hiring and post-hire outcomes with intervals, the 'not enough data' state, and the validity
of each competency's score with a multiple-comparison correction; the statistics beside an
established implementation (scipy, a test dependency)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from appliance.accounts.auth import principal_of
from appliance.analytics.hiring import (
    MIN_N,
    add_months,
    band_of,
    hiring_analytics,
    retained,
)
from appliance.platform.stats import holm, mean_interval, spearman, wilson
from appliance.privacy.erasure import erase_candidate
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store
from appliance.store.outcomes import HireOutcome
from tests.support.hiring_world import Applicant, build

from .conftest import Appliance, make_user

scipy_stats = pytest.importorskip("scipy.stats")


def _person(store: Store, name: str, role: str = "hr_admin") -> Principal:
    return principal_of(
        store.users.get(make_user(store, name, role, departments=["*"], regions=["*"]))
    )


def test_wilson_and_t_intervals_match_the_textbook() -> None:
    # Wilson 95 % for 8/10 is 0.490-0.943 (Newcombe 1998, table I method 3 gives 0.4902-0.9433).
    interval = wilson(8, 10)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 0) is None
    zero = wilson(0, 20)
    assert zero is not None and zero.low == 0.0 and 0.16 < zero.high < 0.17
    values = [3.1, 4.0, 2.5, 3.7, 4.4, 3.0, 2.9, 3.8]
    mean = mean_interval(values)
    assert mean is not None
    low, high = scipy_stats.t.interval(
        0.95, len(values) - 1, loc=sum(values) / 8, scale=scipy_stats.sem(values)
    )
    assert mean.low == pytest.approx(low, abs=1e-3) and mean.high == pytest.approx(high, abs=1e-3)


def test_spearman_agrees_with_scipy_and_is_deterministic() -> None:
    rng = random.Random(7)
    x = [rng.randint(1, 10) for _ in range(60)]  # ties, as scores have
    y = [value + rng.gauss(0, 4) for value in x]
    ours = spearman(x, y)
    theirs = scipy_stats.spearmanr(x, y)
    assert ours is not None
    assert ours.rho == pytest.approx(theirs.statistic, abs=1e-9)
    # A permutation p-value and the t approximation agree to within sampling error.
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=0.01 + theirs.pvalue * 0.3)
    assert spearman(x, y) == ours
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    noise = spearman([rng.random() for _ in range(40)], [rng.random() for _ in range(40)])
    assert noise is not None and noise.p_value > 0.01


def test_holm_correction() -> None:
    # Holm (1979): p = 0.01, 0.04, 0.03 over 3 tests -> 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_months_and_retention() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 8, 15), 12) == date(2026, 8, 15)

    def outcome(start: str | None, left: str | None) -> HireOutcome:
        voluntary = None if left is None else True
        return HireOutcome(1, 1, 1, "E1", start, "passed", left, voluntary, 1, "")

    today = date(2026, 12, 7)
    assert retained(outcome("2025-01-01", None), 12, today) is True
    assert retained(outcome("2026-09-01", None), 6, today) is None  # too early to tell
    # A leaver is not counted before the mark either: early leavers alone would bias a cohort.
    assert retained(outcome("2026-09-01", "2026-10-01"), 6, today) is None
    assert retained(outcome("2025-09-01", "2025-10-01"), 6, today) is False
    assert retained(outcome("2025-06-01", "2026-06-01"), 12, today) is True  # left on the mark
    assert retained(outcome(None, None), 6, today) is None
    assert band_of(1.0) == 0 and band_of(2.99) == 0 and band_of(9.0) == 4 and band_of(10) == 4


def _history(rng: random.Random) -> list[Applicant]:
    """60 applicants: higher technical scores hire more often and rate higher afterwards; the
    collaboration score is noise."""
    people = []
    for index in range(60):
        tech = float(rng.randint(2, 10))
        collab = float(rng.randint(1, 10))
        hired = tech >= 6 and index % 4 != 0
        decision = "hire" if hired else ("reject" if index % 5 else None)
        ratings: tuple[tuple[str, float], ...] = ()
        start = left = None
        voluntary = None
        probation = "pending"
        if hired:
            start = "2025-01-15" if index % 2 else "2026-08-01"
            rating = min(5.0, max(1.0, round(tech / 2 + rng.gauss(0, 0.4), 1)))
            ratings = (("2026-06-30", rating),) if start == "2025-01-15" else ()
            probation = "passed" if start == "2025-01-15" else "pending"
            if tech <= 6 and start == "2025-01-15":
                left, voluntary = "2025-05-01", True
        people.append(
            Applicant(
                (tech, collab),
                decision,
                start_date=start,
                left_on=left,
                voluntary=voluntary,
                probation=probation,
                ratings=ratings,
            )
        )
    return people


def test_analytics_over_a_hiring_history(appliance: Appliance, store: Store) -> None:
    admin = _person(store, "hr.admin")
    history = _history(random.Random(17))
    world = build(store, admin, history)
    found = hiring_analytics(store, admin)
    assert found.people == 60
    (job,) = found.by_job
    hired = sum(a.decision == "hire" for a in history)
    advanced = hired  # nobody was advanced without a hire in this history
    assert (job.applied, job.interviewed, job.advanced, job.hired) == (60, 60, advanced, hired)
    assert job.days_to_hire is not None and 0 <= job.days_to_hire < 1  # decided at once
    # The histogram counts every scored person once, by the weighted mean of both scores.
    assert sum(row.n for row in found.score_histogram) == 60
    means = [sum(a.scores) / 2 for a in history]
    assert [row.n for row in found.score_histogram] == [
        sum(band_of(m) == i for m in means) for i in range(5)
    ]
    # Hire rate per band among people decided: a figure only with MIN_N people or more.
    decided = [a for a in history if a.decision is not None]
    for index, row in enumerate(found.hire_rate):
        inside = [a for a in decided if band_of(sum(a.scores) / 2) == index]
        assert row.n == len(inside)
        if len(inside) < MIN_N:
            assert row.estimate is None
        else:
            assert row.estimate is not None
            assert row.estimate.value == pytest.approx(
                sum(a.decision == "hire" for a in inside) / len(inside)
            )
            assert row.estimate.low <= row.estimate.value <= row.estimate.high
    # Validity: the technical score predicts performance, collaboration does not.
    validity = {(row.key, row.outcome): row for row in found.validity}
    tech = validity[("technical_problem_solving", "performance")]
    collab = validity[("collaboration", "performance")]
    assert tech.correlation is not None and tech.correlation.rho > 0.7
    assert tech.predicts is True
    assert collab.correlation is not None and collab.predicts is False
    assert tech.names["en"] != "technical_problem_solving"  # the model's own name
    assert tech.p_adjusted is not None and tech.p_adjusted >= tech.correlation.p_value
    # Erasing a hired person takes their outcome out of every figure.
    first_hire = next(world.candidates[i][0] for i, a in enumerate(history) if a.decision == "hire")
    erase_candidate(store, appliance.spool(), admin, first_hire, "asked to be forgotten")
    assert store.outcomes.for_candidate(first_hire) == []
    assert hiring_analytics(store, admin).people == 59


def test_not_enough_data_is_said_not_guessed(store: Store) -> None:
    admin = _person(store, "hr.admin")
    build(store, admin, [Applicant((8.0, 8.0), "hire", start_date="2025-01-01")] * 3)
    found = hiring_analytics(store, admin)
    assert all(row.estimate is None for row in found.hire_rate)
    assert all(row.estimate is None for table in found.retention.values() for row in table)
    assert all(row.correlation is None and row.predicts is None for row in found.validity)


def test_analytics_are_scoped_and_denied_by_default(store: Store) -> None:
    admin = _person(store, "hr.admin")
    build(store, admin, [Applicant((5.0, 5.0), "reject")] * 2, department="Sales")
    build(store, admin, [Applicant((5.0, 5.0), "reject")] * 3, department="Engineering")
    lead = principal_of(
        store.users.get(
            make_user(store, "lead", "business_lead", departments=["Sales"], regions=["US-NYC"])
        )
    )
    assert hiring_analytics(store, lead).people == 2
    for role in ("interviewer", "tech_expert", "auditor", "service"):
        other = principal_of(
            store.users.get(make_user(store, role, role, departments=["*"], regions=["*"]))
        )
        with pytest.raises(PermissionDeniedError):
            hiring_analytics(store, other)


def test_questions_that_predict_and_those_that_predict_nothing(store: Store) -> None:
    from appliance.analytics.questions import WEAK, people_needed, question_key
    from tests.support.hiring_world import QUESTIONS

    admin = _person(store, "hr.admin")
    people = []
    for index in range(120):
        tech = float(2 + index % 9)  # 2..10
        collab = float(1 + (index * 7 // 9) % 10)  # walks independently of tech
        people.append(
            Applicant(
                (tech, collab),
                "hire",
                start_date="2025-01-01",
                probation="passed",
                ratings=(("2025-12-01", round(1 + tech * 0.4, 1)),),
            )
        )
    build(store, admin, people)
    rows = {row.text: row for row in hiring_analytics(store, admin).questions}
    tech_q, collab_q = rows[QUESTIONS[0]], rows[QUESTIONS[1]]
    assert tech_q.n == collab_q.n == 120 and tech_q.key == question_key(QUESTIONS[0])
    assert tech_q.correlation is not None and tech_q.correlation.rho > 0.99
    assert tech_q.predicts is True and not tech_q.predicts_nothing
    assert collab_q.correlation is not None
    interval = collab_q.interval
    assert interval is not None and interval[0] < collab_q.correlation.rho < interval[1]
    assert collab_q.predicts_nothing == (interval[0] > -WEAK and interval[1] < WEAK)
    assert abs(collab_q.correlation.rho) < 0.05 and collab_q.predicts_nothing
    assert people_needed(0.0) == 46  # with fewer hires no question can be shown useless


def test_few_hires_never_show_a_question_useless(store: Store) -> None:
    admin = _person(store, "hr.admin")
    few = [
        Applicant(
            (float(2 + i % 9), 5.0),
            "hire",
            start_date="2025-01-01",
            ratings=(("2025-12-01", 3.0 + (i % 3) * 0.5),),
        )
        for i in range(30)
    ]
    build(store, admin, few)
    assert not any(row.predicts_nothing for row in hiring_analytics(store, admin).questions)


def test_people_still_in_the_process_are_not_counted_as_not_hired(store: Store) -> None:
    admin = _person(store, "hr.admin")
    build(
        store,
        admin,
        [Applicant((8.0, 8.0), "advance")] * 9 + [Applicant((8.0, 8.0), "hire")] * 11,
    )
    row = hiring_analytics(store, admin).hire_rate[3]  # the band 7-<9
    assert row.n == 11 and row.estimate is not None and row.estimate.value == 1.0


def test_many_tests_get_enough_permutations_to_pass_holm() -> None:
    from appliance.platform.stats import MAX_PERMUTATIONS, PERMUTATIONS, permutations_for

    assert permutations_for(10) == PERMUTATIONS
    assert permutations_for(500) == 10_000 and permutations_for(10**6) == MAX_PERMUTATIONS
    x = list(range(60))
    y = [value * 2 + (value % 3) for value in x]  # an almost perfect relation
    strong = spearman(x, y, permutations=permutations_for(500))
    assert strong is not None and strong.p_value == 1 / 10_001
    # With 500 such tests Holm still lets it through (it could not with 4 000 permutations).
    assert holm([strong.p_value] * 500)[0] < 0.05
    default = spearman(x, y)
    assert default is not None and holm([default.p_value] * 500)[0] > 0.05
