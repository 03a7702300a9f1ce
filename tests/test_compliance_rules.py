"""Regional compliance, one test per rule id of shared/compliance/REGIONS.md (EU-1, EU-6, NY-1,
NY-2, NY-3, IL-1, IL-4, MD-1, CN-1, CN-2, ALL-1), plus the policy table, business days and
the compliance pages (CSRF on, logged in through the form)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from pydantic import ValidationError

from appliance.accounts.auth import principal_of
from appliance.analysis.pipeline import ReportDraft, StepContext
from appliance.analysis.steps.policy_gate import PolicyGateStep, step_decision
from appliance.compliance import bias, business_days, common, consents, notices, policy
from appliance.compliance.analysis_settings import RegionPolicyError, set_region_analysis
from appliance.compliance.common import REGIONS, ComplianceError
from appliance.compliance.illinois import illinois_period, illinois_report, illinois_year_containing
from appliance.compliance.policy import Fact, PolicyAction, decide_for_interview, may
from appliance.platform.clock import now_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store
from appliance.store.compliance import Notice, compliance_of
from appliance.store.recordings import Recording

from .conftest import Appliance, csrf_token_from, login, make_user

FULL_NOTICE = {
    "title": "How we use AI in this interview",
    "controller": "Example GmbH, Musterstrasse 1, Berlin; privacy@example.invalid",
    "purposes": "Assessing your application for the advertised position.",
    "retention": "Recordings 6 months, AI decision logs at least 6 months.",
    "rights": "Access, rectification, erasure, objection, complaint to a supervisory authority.",
    "automated_evaluation": (
        "An AI system transcribes your answers and scores them against the job's competencies;"
        " a person reviews every score and makes every decision."
    ),
    "body": "",
}


# --- helpers ---------------------------------------------------------------------------------


def _person(
    store: Store, username: str, role: str = "hr_admin", regions: list[str] | None = None
) -> Principal:
    user_id = make_user(
        store, username, role, departments=["*"], regions=regions if regions else ["*"]
    )
    return principal_of(store.users.get(user_id))


def _interview(
    store: Store,
    region: str,
    *,
    residence: str = "default",
    scheduled_at: str | None = None,
    name: str = "Test Candidate",
) -> int:
    with store.transaction():
        requisition = store.requisitions.create("Engineer", "Engineering", "Somewhere", region)
    candidate = store.candidates.create(name, residence_region=residence)
    with store.transaction():
        interview = store.interviews.create(candidate.id, requisition.id, scheduled_at=scheduled_at)
    return interview.id


def _published_notice(store: Store, admin: Principal, region: str, language: str = "en") -> Notice:
    draft = notices.save_notice(
        store, admin, region=region, language=language, fields=dict(FULL_NOTICE)
    )
    return notices.publish_notice(store, admin, draft.id)


def _entries(store: Store, action: str) -> list[Any]:
    return store.audit.entries(action=action)


def _ctx(store: Store | None, interview_id: int, region: str, tmp_path: Path) -> StepContext:
    """A step context for the gate (no media needed: the gate reads only the store)."""
    candidate_id = store.interviews.get(interview_id).candidate_id if store is not None else 1
    recording = Recording(
        1,
        interview_id,
        candidate_id,
        "spool",
        "x.wav",
        "audio/wav",
        1,
        "0" * 64,
        b"",
        None,
        now_stamp(),
    )
    ctx = StepContext(
        7,
        recording,
        region,
        "en",
        ApplianceConfig(data_dir=tmp_path),
        lambda: io.BytesIO(b""),  # type: ignore[arg-type, return-value]
        tmp_path,
        lambda fraction, step: None,
    )
    if store is not None:
        ctx.store = store  # type: ignore[attr-defined]  # the worker sets this (see report)
    return ctx


def _gate(store: Store | None, interview_id: int, region: str, tmp_path: Path) -> dict[str, Any]:
    draft = PolicyGateStep().run(_ctx(store, interview_id, region, tmp_path), ReportDraft())
    section: dict[str, Any] = draft.sections["policy"]
    return section


def _enable(store: Store, admin: Principal, region: str, *, visual: bool, affect: bool) -> None:
    set_region_analysis(store, admin, region, visual_cues=visual, affect=affect)


# --- the policy table ------------------------------------------------------------------------


def test_policy_table_has_one_rule_per_region_and_action_each_with_a_source() -> None:
    for action in PolicyAction:
        for region in REGIONS:
            cells = [r for r in policy.RULES if r.action is action and r.region == region]
            assert len(cells) == 1, (action, region)
    ids = [rule.id for rule in policy.RULES]
    assert len(ids) == len(set(ids))
    assert all(rule.source.strip() and rule.summary.strip() for rule in policy.RULES)
    assert set(policy.PROFILES) == set(REGIONS)
    assert set(policy.FACT_TEXT) == set(Fact)
    assert policy.POLICY_VERSION
    # The matrix's prohibition (affect inference in the EU), and self-identification where no
    # bias reporting gives it a purpose (Maryland: data minimisation).
    nevers = [(r.region, r.action) for r in policy.RULES if r.effect is policy.Effect.NEVER]
    assert nevers == [
        ("EU", PolicyAction.RUN_AFFECT_ANALYSIS),
        ("US-MD", PolicyAction.COLLECT_SELF_ID),
    ]


def test_policy_stricter_rule_wins_eu_residence_and_us_il_job(store: Store) -> None:
    interview_id = _interview(store, "US-IL", residence="EU")
    assert common.regions_for_interview(store, interview_id) == ["US-IL", "EU"]
    everything = {fact.value: True for fact in Fact}
    both, il_only = ["US-IL", "EU"], ["US-IL"]

    affect = may(None, PolicyAction.RUN_AFFECT_ANALYSIS, regions=both, context=everything)
    assert not affect.allowed and "AI Act" in affect.reason
    assert may(None, "run_affect_analysis", regions=il_only, context=everything).allowed

    only_notice = {Fact.NOTICE_GIVEN.value: True}
    scoring = may(None, PolicyAction.RUN_AI_SCORING, regions=both, context=only_notice)
    assert not scoring.allowed
    assert scoring.requirements == [Fact.CONSENT_AI_BEFORE.value]
    with_consent = {**only_notice, Fact.CONSENT_AI_BEFORE.value: True}
    scoring = may(None, PolicyAction.RUN_AI_SCORING, regions=both, context=with_consent)
    assert scoring.allowed and "human_oversight" in scoring.requirements  # EU's obligation

    # A consent given after the interview started satisfies the EU rule but not Illinois'.
    late_consent = {
        Fact.VISUAL_CUES_ENABLED.value: True,
        Fact.CONSENT_VISUAL_CUES.value: True,
        Fact.CONSENT_AI_BEFORE.value: True,
    }
    assert may(None, PolicyAction.RUN_VISUAL_CUES, regions=["EU"], context=late_consent).allowed
    visual = may(None, PolicyAction.RUN_VISUAL_CUES, regions=both, context=late_consent)
    assert not visual.allowed and visual.requirements == [Fact.CONSENT_VISUAL_CUES_BEFORE.value]
    reverse = may(None, PolicyAction.RUN_VISUAL_CUES, regions=both[::-1], context=late_consent)
    assert reverse.allowed == visual.allowed and set(reverse.rules) == set(visual.rules)


def test_policy_regions_are_checked_and_default_only_when_nothing_else(store: Store) -> None:
    assert common.normalize_regions(["default", "EU", "EU"]) == ["EU"]
    assert common.normalize_regions([]) == ["default"]
    with pytest.raises(ComplianceError, match="unknown region"):
        common.normalize_regions(["Atlantis"])
    # A setting is per region: enabling visual cues in the US does not enable them in the EU.
    admin = _person(store, "hr.compliance")
    _enable(store, admin, "US-NYC", visual=True, affect=False)
    facts = {Fact.CONSENT_VISUAL_CUES.value: True}
    assert may(store, PolicyAction.RUN_VISUAL_CUES, regions=["US-NYC"], context=facts).allowed
    refused = may(store, PolicyAction.RUN_VISUAL_CUES, regions=["US-NYC", "EU"], context=facts)
    assert not refused.allowed and refused.requirements == [Fact.VISUAL_CUES_ENABLED.value]


def test_policy_refusals_are_logged_previews_and_permissions_are_not(store: Store) -> None:
    refused = may(
        store, PolicyAction.RUN_AFFECT_ANALYSIS, regions=["EU"], context={"actor": "job:3"}
    )
    assert not refused.allowed
    logged = _entries(store, "policy.refused")
    assert len(logged) == 1 and logged[0].actor == "job:3"
    assert logged[0].details["action"] == "run_affect_analysis"
    assert logged[0].details["rules"] == ["EU.affect"]
    assert logged[0].details["policy_version"] == policy.POLICY_VERSION
    may(store, PolicyAction.RUN_AFFECT_ANALYSIS, regions=["EU"], context={"dry_run": True})
    assert may(store, PolicyAction.SHARE_VIDEO, regions=["US-NYC"], context={}).allowed
    assert len(_entries(store, "policy.refused")) == 1


# --- business days ---------------------------------------------------------------------------


def test_business_days_skip_a_weekend_and_a_holiday(store: Store) -> None:
    friday, independence_day = date(2025, 6, 27), date(2025, 7, 4)
    assert business_days.add_business_days(friday, 10, set()) == date(2025, 7, 11)
    assert business_days.add_business_days(friday, 10, {independence_day}) == date(2025, 7, 14)
    assert business_days.add_business_days(date(2025, 6, 28), 1, set()) == date(2025, 6, 30)
    assert business_days.add_business_days(friday, 0, set()) == friday
    assert not business_days.is_business_day(independence_day, {independence_day})
    with pytest.raises(ValueError):
        business_days.add_business_days(friday, -1, set())
    # Counted in the region's own calendar and time of day (14:00 in New York).
    sent = datetime(2025, 6, 27, 18, 0, tzinfo=ZoneInfo("UTC"))
    due = business_days.add_business_days_at(sent, 10, {independence_day}, "America/New_York")
    assert due == datetime(2025, 7, 14, 14, 0, tzinfo=ZoneInfo("America/New_York"))
    # The calendar lives in the store, per region.
    admin = _person(store, "hr.compliance")
    business_days.add_holiday(
        store, admin, region="US-NYC", day="2025-07-04", name="Independence Day"
    )
    assert business_days.holiday_dates(store, "US-NYC") == {independence_day}
    assert business_days.holiday_dates(store, "EU") == set()
    with pytest.raises(ComplianceError, match="name"):
        business_days.add_holiday(store, admin, region="US-NYC", day="2025-12-25", name=" ")
    with pytest.raises(ComplianceError, match="not a date"):
        business_days.add_holiday(store, admin, region="US-NYC", day="25.12.2025", name="X")
    assert business_days.remove_holiday(store, admin, region="US-NYC", day="2025-07-04")
    assert _entries(store, "holiday.set") and _entries(store, "holiday.removed")
    eu_only = _person(store, "eu.admin", regions=["EU"])
    with pytest.raises(PermissionDeniedError):
        business_days.add_holiday(store, eu_only, region="US-NYC", day="2025-07-04", name="X")


# --- EU --------------------------------------------------------------------------------------


def test_EU_1_affect_inference_is_never_enabled_nor_run_in_the_eu(
    store: Store, tmp_path: Path
) -> None:
    admin = _person(store, "hr.compliance")
    with pytest.raises(RegionPolicyError, match=r"AI Act .*Art\. 5\(1\)\(f\)"):
        set_region_analysis(store, admin, "EU", visual_cues=True, affect=True)
    refused = _entries(store, "policy.refused")
    assert refused[-1].actor == f"user:{admin.user_id}"
    assert refused[-1].details["action"] == "enable:run_affect_analysis"
    assert refused[-1].details["regions"] == ["EU"]
    eu = compliance_of(store).region_settings.get("EU")
    assert not eu.affect_enabled and not eu.visual_cues_enabled  # nothing half-saved
    # The schema refuses it too, whatever code tries.
    with pytest.raises(Exception, match="CHECK"), store.transaction():
        store.conn.execute(
            "INSERT INTO region_analysis_settings (region, affect_enabled, updated_at)"
            " VALUES ('EU', 1, ?)",
            (now_stamp(),),
        )
    # No configuration key exists that could switch it on: unknown keys are refused.
    for attempt in ({"affect_analysis": True}, {"worker": {"affect_enabled": True}}):
        with pytest.raises(ValidationError):
            ApplianceConfig(data_dir=tmp_path, **attempt)
    # Elsewhere it can be enabled (it stays off by default).
    _enable(store, admin, "US-NYC", visual=True, affect=True)
    assert compliance_of(store).region_settings.get("US-NYC").affect_enabled

    # No setting, fact or consent makes the EU rule allow it.
    everything: dict[str, Any] = {fact.value: True for fact in Fact}
    eu_job = _interview(store, "EU")
    assert not decide_for_interview(
        store, PolicyAction.RUN_AFFECT_ANALYSIS, eu_job, extra=everything
    ).allowed
    # An EU resident applying to a New York job: the stricter (EU) rule wins.
    ny_job = _interview(store, "US-NYC", residence="EU", name="Eu Resident")
    consents.record_consent(
        store,
        admin,
        interview_id=ny_job,
        kind="visual_cues",
        text_shown="I agree.",
        language="en",
    )
    decision = decide_for_interview(store, PolicyAction.RUN_AFFECT_ANALYSIS, ny_job)
    assert not decision.allowed and "EU" in decision.reason
    # The worker's gate records it: the affect step would not even be loaded.
    section = _gate(store, eu_job, "EU", tmp_path)
    assert section["analyses"]["run_affect_analysis"]["allowed"] is False
    assert "prohibited" in section["analyses"]["run_affect_analysis"]["reason"]
    assert any(e.actor == "job:7" for e in _entries(store, "policy.refused"))


def test_EU_6_a_notice_without_its_required_fields_cannot_be_published(store: Store) -> None:
    admin = _person(store, "hr.compliance")
    partial = {**FULL_NOTICE, "retention": "", "rights": "   ", "automated_evaluation": ""}
    draft = notices.save_notice(store, admin, region="EU", language="en", fields=partial)
    assert draft.version == 1 and not draft.published
    with pytest.raises(notices.NoticeError) as refused:
        notices.publish_notice(store, admin, draft.id)
    assert refused.value.missing == ("retention", "rights", "automated_evaluation")
    message = str(refused.value)
    assert "retention" in message and "rights" in message and "automated_evaluation" in message
    assert not compliance_of(store).notices.get(draft.id).published
    assert notices.current_notice(store, "EU", "en") is None
    # The database refuses it as well.
    with pytest.raises(Exception, match="CHECK"), store.transaction():
        store.conn.execute(
            "UPDATE notice_versions SET published_at = ? WHERE id = ?", (now_stamp(), draft.id)
        )

    fixed = notices.save_notice(
        store, admin, region="EU", language="en", fields=dict(FULL_NOTICE), notice_id=draft.id
    )
    assert fixed.id == draft.id and fixed.version == 1  # a draft is edited in place
    published = notices.publish_notice(store, admin, fixed.id)
    assert published.published and _entries(store, "notice.published")
    text = notices.notice_text(published)
    for name in notices.REQUIRED_FIELDS:
        assert FULL_NOTICE[name] in text
    assert "automated evaluation" in text.lower()

    # A published version never changes: editing it makes version 2, a draft.
    edited = notices.save_notice(
        store,
        admin,
        region="EU",
        language="en",
        fields={**FULL_NOTICE, "retention": "12 months."},
        notice_id=published.id,
    )
    assert edited.id != published.id and edited.version == 2 and not edited.published
    assert compliance_of(store).notices.get(published.id).retention == FULL_NOTICE["retention"]
    assert notices.current_notice(store, "EU", "en") == compliance_of(store).notices.get(
        published.id
    )
    with pytest.raises(Exception, match="never changes"), store.transaction():
        store.conn.execute(
            "UPDATE notice_versions SET rights = 'none' WHERE id = ?", (published.id,)
        )
    with pytest.raises(notices.NoticeError, match="already published"):
        notices.publish_notice(store, admin, published.id)
    # Only in one's own regions.
    ny_admin = _person(store, "ny.admin", regions=["US-NYC"])
    with pytest.raises(PermissionDeniedError):
        notices.save_notice(store, ny_admin, region="EU", language="en", fields=FULL_NOTICE)
    recruiter = _person(store, "rec", role="recruiter")
    with pytest.raises(PermissionDeniedError):
        notices.publish_notice(store, recruiter, edited.id)


# --- US-NYC ----------------------------------------------------------------------------------


def test_NY_1_ai_scoring_waits_ten_business_days_after_the_notice(store: Store) -> None:
    admin = _person(store, "hr.compliance")
    auditor = _person(store, "auditor", role="auditor")
    interview_id = _interview(store, "US-NYC")
    notice = _published_notice(store, admin, "US-NYC")
    business_days.add_holiday(
        store, admin, region="US-NYC", day="2025-07-04", name="Independence Day"
    )
    # A bias audit of March 2025 (NY also wants one at most a year old).
    bias.publish_audit(
        store, auditor, bias.compute_summary([], region="US-NYC", audit_date=date(2025, 3, 1))
    )
    scoring = PolicyAction.RUN_AI_SCORING
    before_notice = decide_for_interview(store, scoring, interview_id, at="2025-07-14T18:00:00Z")
    assert not before_notice.allowed
    assert Fact.NOTICE_WAIT_OVER.value in before_notice.requirements

    # Sent on Friday 27 June 2025, 14:00 in New York.
    notices.record_delivery(
        store,
        admin,
        interview_id=interview_id,
        notice_id=notice.id,
        sent_at="2025-06-27T18:00:00Z",
    )
    assert _entries(store, "notice.delivered")
    day_nine = decide_for_interview(store, scoring, interview_id, at="2025-07-11T18:00:00Z")
    assert not day_nine.allowed and "10 business days" in day_nine.reason
    just_before = decide_for_interview(store, scoring, interview_id, at="2025-07-14T17:59:00Z")
    assert not just_before.allowed
    day_ten = decide_for_interview(store, scoring, interview_id, at="2025-07-14T18:00:00Z")
    assert day_ten.allowed, day_ten.reason
    # The holiday is what moved the date: without it, Friday 11 July would do.
    business_days.remove_holiday(store, admin, region="US-NYC", day="2025-07-04")
    assert decide_for_interview(store, scoring, interview_id, at="2025-07-11T18:00:00Z").allowed
    # And a bias audit more than a year old blocks it again.
    stale = decide_for_interview(store, scoring, interview_id, at="2026-03-02T12:00:00Z")
    assert not stale.allowed and stale.requirements == [Fact.BIAS_AUDIT_CURRENT.value]
    assert decide_for_interview(store, scoring, interview_id, at="2026-03-01T12:00:00Z").allowed
    # A draft notice cannot be recorded as sent.
    draft = notices.save_notice(store, admin, region="US-NYC", language="es", fields=FULL_NOTICE)
    with pytest.raises(notices.NoticeError, match="published"):
        notices.record_delivery(store, admin, interview_id=interview_id, notice_id=draft.id)


def _people_for_ny2() -> list[bias.Person]:
    people: list[bias.Person] = []

    def add(sex: str | None, race: str | None, count: int, selected: int) -> None:
        people.extend(bias.Person(sex, race, i < selected) for i in range(count))

    add("Male", "White", 20, 12)
    add("Female", "White", 20, 8)
    add("Male", "Asian", 10, 5)
    add("Female", "Asian", 8, 2)
    add("Female", "Native Hawaiian or Pacific Islander", 1, 1)
    add(None, None, 2, 1)
    return people


def test_NY_2_impact_ratios_per_sex_race_and_intersection() -> None:
    people = _people_for_ny2()
    sex, race, both = bias.selection_tables(people)
    assert (sex.dimension, race.dimension, both.dimension) == (
        "sex",
        "race_ethnicity",
        "intersection",
    )
    # rate = selected / assessed; impact ratio = rate / highest rate; unknown counted apart.
    male, female = sex.group("Male"), sex.group("Female")
    assert (male.count, male.positives, male.rate) == (30, 17, Fraction(17, 30))
    assert (female.count, female.positives, female.rate) == (29, 11, Fraction(11, 29))
    assert male.impact_ratio == 1
    assert female.impact_ratio == Fraction(11, 29) / Fraction(17, 30) and female.flagged
    assert sex.unknown == 2 and sex.total == 61

    # A category under 2 % of the sample is marked; its count and rate stay visible.
    nhpi = race.group("Native Hawaiian or Pacific Islander")
    assert nhpi.excludable and nhpi.count == 1 and nhpi.rate == 1
    assert not race.group("White").excludable
    assert race.group("White").impact_ratio == Fraction(1, 2)  # against NHPI's 100 %
    excluded = bias.selection_tables(people, exclude_small=True)[1]
    kept = excluded.group("Native Hawaiian or Pacific Islander")
    assert kept.excluded and kept.impact_ratio is None and kept.ratio_text == "excluded"
    assert kept.count == 1 and kept.rate == 1
    assert excluded.group("White").impact_ratio == 1
    assert excluded.group("Asian").impact_ratio == Fraction(7, 18) / Fraction(1, 2)

    # Intersections: both categories known, else unknown.
    assert both.group("White · Female").rate == Fraction(8, 20)
    assert both.unknown == 2 and len(both.groups) == 5

    # Scores: strictly above the median of all scores.
    scored = (
        [bias.Person("Male", "White", False, s) for s in (5.0, 6.0, 7.0)]
        + [bias.Person("Female", "White", False, s) for s in (4.0, 5.0, 5.0)]
        + [bias.Person(None, None, False, 9.0), bias.Person("Male", "Asian", False, None)]
    )
    score_sex = bias.scoring_tables(scored)[0]
    assert score_sex.median == 5.0
    assert score_sex.group("Male").rate == Fraction(2, 3)  # 6 and 7; 5 is not above
    assert score_sex.group("Female").rate == 0 and score_sex.group("Female").flagged
    assert score_sex.unknown == 1 and score_sex.total == 7  # the unscored one is not in it

    # Nobody selected: every ratio is "undefined", never a division error, never flagged.
    nobody = bias.selection_tables(
        [bias.Person("Male", "White", False)] * 3 + [bias.Person("Female", "Asian", False)] * 3
    )[0]
    assert nobody.undefined
    assert all(g.ratio_text == "undefined" and not g.flagged for g in nobody.groups)


def _assessed_candidate(
    store: Store,
    requisition_id: int,
    decided_by: int,
    *,
    name: str,
    sex: str | None,
    race: str | None,
    score: float,
    decision: str | None,
) -> int:
    candidate = store.candidates.create(name)
    with store.transaction():
        interview = store.interviews.create(candidate.id, requisition_id)
        job = store.jobs.enqueue("analyse", max_open=1000, max_attempts=1)
        store.reports.create(
            interview.id, job.id, {"scores": {"ownership": {"score": score, "evidence": []}}}
        )
        if decision is not None:
            store.decisions.add(candidate.id, requisition_id, decision, "reviewed", decided_by)
        compliance_of(store).demographics.put(candidate.id, sex, race)
    return candidate.id


def test_NY_3_the_audit_summary_is_published_with_what_the_law_asks(store: Store) -> None:
    admin = _person(store, "hr.compliance")
    auditor = _person(store, "ny.auditor", role="auditor", regions=["US-NYC"])
    with store.transaction():
        ny = store.requisitions.create("Analyst", "Finance", "New York", "US-NYC")
        eu = store.requisitions.create("Analyst", "Finance", "Berlin", "EU")
    rows = [
        ("Ann Alpha", "Female", "White", 8.0, "advance"),
        ("Bo Beta", "Male", "White", 6.0, "reject"),
        ("Cy Gamma", "Male", "Asian", 7.0, "hire"),
        ("Di Delta", None, "Asian", 4.0, None),
    ]
    for name, sex, race, score, decision in rows:
        _assessed_candidate(
            store,
            ny.id,
            admin.user_id,
            name=name,
            sex=sex,
            race=race,
            score=score,
            decision=decision,
        )
    _assessed_candidate(
        store,
        eu.id,
        admin.user_id,
        name="Eve Elsewhere",
        sex="Female",
        race="White",
        score=9.0,
        decision="hire",
    )

    summary = bias.bias_audit(store, auditor, region="US-NYC", data_source="Appliance 2025")
    published = bias.publish_audit(store, auditor, summary)
    stored = compliance_of(store).bias_audits.for_region("US-NYC")
    assert [audit.id for audit in stored] == [published.id]
    data = stored[0].summary
    assert data["audit_date"] == utcnow().date().isoformat()
    assert data["data_source"] == "Appliance 2025"
    assert data["individuals"] == 4  # the EU candidate is not in a NYC audit
    assert data["unknown"] == {"sex": 1, "race_ethnicity": 0, "intersection": 1}
    selection = {table["dimension"]: table for table in data["selection"]}
    by_sex = {row["category"]: row for row in selection["sex"]["groups"]}
    assert by_sex["Male"]["rate"] == 0.5 and by_sex["Female"]["rate"] == 1.0
    assert by_sex["Male"]["impact_ratio"] == 0.5 and by_sex["Male"]["flagged"]
    assert selection["sex"]["unknown"] == 1
    # What "under 2 %" is a share of is published with it (none was left out here).
    assert data["exclusion_base"] == "all" and data["excluded_categories"] == []
    assert selection["sex"]["exclusion_denominator"] == 4
    scoring = {table["dimension"]: table for table in data["scoring"]}
    assert scoring["race_ethnicity"]["median"] == 6.5
    # Aggregates only: no name and no pseudonym in what is published.
    text = json.dumps(data)
    assert not any(name in text for name, *_ in rows) and "cand-" not in text
    assert _entries(store, "bias_audit.viewed") and _entries(store, "bias_audit.published")
    with pytest.raises(Exception, match="never changes"), store.transaction():
        store.conn.execute("UPDATE bias_audits SET data_source = 'x'")
    with pytest.raises(PermissionDeniedError):
        bias.bias_audit(store, auditor, region="EU")
    recruiter = _person(store, "rec", role="recruiter")
    with pytest.raises(PermissionDeniedError):
        bias.bias_audit(store, recruiter, region="US-NYC")
    # The categories are sealed with each candidate's key, like every other personal field.
    raw = store.conn.execute("SELECT sex, race_ethnicity FROM candidate_demographics").fetchall()
    assert all(str(row["race_ethnicity"]).startswith("fc1:") for row in raw)


# --- US-IL -----------------------------------------------------------------------------------


def test_IL_1_no_ai_evaluation_without_consent_given_before_the_interview(
    store: Store, tmp_path: Path
) -> None:
    admin = _person(store, "hr.compliance")
    notice = _published_notice(store, admin, "US-IL")
    started = _interview(store, "US-IL", scheduled_at=now_stamp(-3600))
    scoring = PolicyAction.RUN_AI_SCORING

    with pytest.raises(consents.ConsentError, match="notice"):
        consents.record_consent(
            store,
            admin,
            interview_id=started,
            kind="ai_evaluation",
            text_shown="I agree.",
            language="en",
        )
    assert not decide_for_interview(store, scoring, started).allowed
    # Consent given now, after the interview started: recorded, but it does not count.
    late = consents.record_consent(
        store,
        admin,
        interview_id=started,
        kind="ai_evaluation",
        text_shown=notices.notice_text(notice) + "\n\nI agree.",
        language="en",
        notice_id=notice.id,
    )
    assert late.notice_version_id == notice.id and late.text_shown.endswith("I agree.")
    assert _entries(store, "consent.recorded")[-1].details["before_interview"] is False
    refused = decide_for_interview(store, scoring, started)
    assert not refused.allowed
    assert refused.requirements == [Fact.CONSENT_AI_BEFORE.value]
    # The worker's gate re-checks: no AI evaluation, humans may still review.
    section = _gate(store, started, "US-IL", tmp_path)
    assert section["ai_evaluation_allowed"] is False
    assert section["human_review_available"] is True
    assert section["regions"] == ["US-IL"]
    assert section["consent"]["records"][0]["before_interview"] is False
    assert not step_decision(_ctx(store, started, "US-IL", tmp_path), scoring).allowed
    assert any(e.details.get("interview") == started for e in _entries(store, "policy.refused"))

    # A signed form dated before the start, recorded by HR afterwards: it counts.
    consents.record_consent(
        store,
        admin,
        interview_id=started,
        kind="ai_evaluation",
        text_shown="I agree.",
        language="en",
        notice_id=notice.id,
        given_at=now_stamp(-7200),
    )
    assert decide_for_interview(store, scoring, started).allowed
    assert _gate(store, started, "US-IL", tmp_path)["ai_evaluation_allowed"] is True

    # An interview not started yet: consent in the room counts; withdrawing it stops the AI.
    planned = _interview(store, "US-IL", scheduled_at=now_stamp(86400), name="Second One")
    given = consents.record_consent(
        store,
        None,
        interview_id=planned,
        kind="ai_evaluation",
        text_shown="I agree.",
        language="en",
        notice_id=notice.id,
    )
    assert given.channel == "candidate" and given.recorded_by is None
    assert decide_for_interview(store, scoring, planned).allowed
    consents.withdraw_consent(store, admin, interview_id=planned, consent_id=given.id)
    assert not decide_for_interview(store, scoring, planned).allowed
    with pytest.raises(consents.ConsentError, match="already withdrawn"):
        consents.withdraw_consent(store, admin, interview_id=planned, consent_id=given.id)
    with pytest.raises(NotFoundError):
        consents.withdraw_consent(store, admin, interview_id=started, consent_id=given.id)
    with pytest.raises(consents.ConsentError, match="current time"):
        consents.record_consent(
            store,
            None,
            interview_id=planned,
            kind="visual_cues",
            text_shown="ok",
            language="en",
            given_at=now_stamp(-60),
        )
    # Without the store the gate fails closed.
    blind = _gate(None, planned, "US-IL", tmp_path)
    assert blind["ai_evaluation_allowed"] is False and blind["consent"] is None


def test_IL_4_annual_race_ethnicity_report(store: Store) -> None:
    admin = _person(store, "hr.compliance")
    auditor = _person(store, "il.auditor", role="auditor", regions=["US-IL"])
    assert illinois_period(2025) == (date(2024, 12, 1), date(2025, 11, 30), date(2025, 12, 31))
    assert illinois_year_containing(date(2025, 11, 30)) == 2025
    assert illinois_year_containing(date(2025, 12, 1)) == 2026
    with store.transaction():
        il = store.requisitions.create("Driver", "Logistics", "Chicago", "US-IL")
        ny = store.requisitions.create("Driver", "Logistics", "New York", "US-NYC")
    for name, race, decision in [
        ("A One", "Black or African American", "advance"),
        ("B Two", "Black or African American", "reject"),
        ("C Three", "White", "hire"),
        ("D Four", None, None),
    ]:
        _assessed_candidate(
            store,
            il.id,
            admin.user_id,
            name=name,
            sex="Female",
            race=race,
            score=5.0,
            decision=decision,
        )
    _assessed_candidate(
        store,
        ny.id,
        admin.user_id,
        name="E Five",
        sex="Male",
        race="White",
        score=5.0,
        decision="hire",
    )
    year = illinois_year_containing(utcnow().astimezone(ZoneInfo("America/Chicago")).date())
    report = illinois_report(store, auditor, year=year)
    assert report.applicants == 4
    rows = {row.race_ethnicity: row for row in report.rows}
    black = rows["Black or African American"]
    assert (
        black.applicants,
        black.interviewed_in_person,
        black.not_interviewed_in_person,
        black.hired,
    ) == (2, 1, 1, 0)
    white = rows["White"]
    assert (white.applicants, white.interviewed_in_person, white.hired) == (1, 1, 1)
    assert report.unknown.applicants == 1 and report.unknown.not_interviewed_in_person == 1
    assert rows["Asian"].applicants == 0  # every category is listed
    assert report.as_dict()["due"] == f"{year}-12-31"
    assert illinois_report(store, auditor, year=year - 1).applicants == 0
    assert _entries(store, "bias_audit.illinois_report")
    ny_auditor = _person(store, "ny.auditor", role="auditor", regions=["US-NYC"])
    with pytest.raises(PermissionDeniedError):
        illinois_report(store, ny_auditor, year=year)


# --- US-MD -----------------------------------------------------------------------------------


def test_MD_1_face_tracking_needs_a_signed_waiver_before_the_interview(store: Store) -> None:
    admin = _person(store, "hr.compliance")
    _enable(store, admin, "US-MD", visual=True, affect=False)
    interview_id = _interview(store, "US-MD", scheduled_at=now_stamp(86400))
    for action in (PolicyAction.RUN_VISUAL_CUES, PolicyAction.RUN_BIOMETRICS):
        refused = decide_for_interview(store, action, interview_id)
        assert not refused.allowed
        assert refused.requirements == [Fact.WAIVER_FACIAL_BEFORE.value]
    waiver_text = (
        "I, the applicant named below, consent to the use of facial recognition during my"
        " interview on the date below, and state whether I have read this waiver."
    )
    base: dict[str, Any] = {
        "interview_id": interview_id,
        "kind": "facial_recognition_waiver",
        "text_shown": waiver_text,
        "language": "en",
    }
    interview_day = utcnow().date().isoformat()
    with pytest.raises(consents.ConsentError, match="name"):
        consents.record_consent(
            store, admin, **base, interview_date=interview_day, read_confirmed=True
        )
    with pytest.raises(consents.ConsentError, match="date"):
        consents.record_consent(store, admin, **base, signed_name="Mary Land", read_confirmed=True)
    with pytest.raises(consents.ConsentError, match="read"):
        consents.record_consent(
            store, admin, **base, signed_name="Mary Land", interview_date=interview_day
        )
    # Any consent of another kind is not a waiver.
    consents.record_consent(
        store,
        admin,
        interview_id=interview_id,
        kind="visual_cues",
        text_shown="I agree.",
        language="en",
    )
    assert not decide_for_interview(store, PolicyAction.RUN_VISUAL_CUES, interview_id).allowed

    waiver = consents.record_consent(
        store,
        admin,
        **base,
        signed_name="Mary Land",
        interview_date=interview_day,
        read_confirmed=False,  # "whether the applicant read it" is stated, either way
    )
    assert (waiver.signed_name, waiver.interview_date, waiver.read_confirmed) == (
        "Mary Land",
        interview_day,
        False,
    )
    raw = store.conn.execute(
        "SELECT signed_name FROM consents WHERE id = ?", (waiver.id,)
    ).fetchone()
    assert str(raw["signed_name"]).startswith("fc1:")  # sealed with the candidate's key
    for action in (PolicyAction.RUN_VISUAL_CUES, PolicyAction.RUN_BIOMETRICS):
        assert decide_for_interview(store, action, interview_id).allowed
    # Only the waiver's withdrawal may change it.
    with pytest.raises(Exception, match="only ever withdrawn"), store.transaction():
        store.conn.execute(
            "UPDATE consents SET given_at = ? WHERE id = ?", (now_stamp(-99999), waiver.id)
        )

    # Signed after the interview started: recorded, but face tracking stays off.
    started = _interview(store, "US-MD", scheduled_at=now_stamp(-600), name="Late Signer")
    consents.record_consent(
        store,
        admin,
        **{**base, "interview_id": started},
        signed_name="Late Signer",
        interview_date=interview_day,
        read_confirmed=True,
    )
    assert not decide_for_interview(store, PolicyAction.RUN_VISUAL_CUES, started).allowed


# --- CN --------------------------------------------------------------------------------------


def test_CN_1_biometric_processing_needs_its_own_consent(store: Store) -> None:
    admin = _person(store, "hr.compliance")
    _enable(store, admin, "CN", visual=True, affect=False)
    notice = _published_notice(store, admin, "CN", language="zh_CN")
    interview_id = _interview(store, "CN")
    consents.record_consent(
        store,
        admin,
        interview_id=interview_id,
        kind="ai_evaluation",
        text_shown=notices.notice_text(notice),
        language="zh_CN",
        notice_id=notice.id,
    )
    notices.record_delivery(store, admin, interview_id=interview_id, notice_id=notice.id)
    assert decide_for_interview(store, PolicyAction.RUN_AI_SCORING, interview_id).allowed
    for action in (PolicyAction.RUN_VISUAL_CUES, PolicyAction.RUN_BIOMETRICS):
        refused = decide_for_interview(store, action, interview_id)
        assert not refused.allowed and refused.requirements == [Fact.CONSENT_BIOMETRIC.value]
    # The general notice's text is not a separate consent.
    with pytest.raises(consents.ConsentError, match="separate"):
        consents.record_consent(
            store,
            admin,
            interview_id=interview_id,
            kind="biometric",
            text_shown=notices.notice_text(notice),
            language="zh_CN",
            notice_id=notice.id,
        )
    consents.record_consent(
        store,
        None,
        interview_id=interview_id,
        kind="biometric",
        text_shown="我单独同意在面试中处理我的人脸和声纹信息。",
        language="zh_CN",
    )
    for action in (PolicyAction.RUN_VISUAL_CUES, PolicyAction.RUN_BIOMETRICS):
        assert decide_for_interview(store, action, interview_id).allowed


def test_CN_2_a_refused_automated_decision_is_recorded_and_requires_human_review(
    store: Store, tmp_path: Path
) -> None:
    admin = _person(store, "hr.compliance")
    notice = _published_notice(store, admin, "CN", language="zh_CN")
    interview_id = _interview(store, "CN")
    notices.record_delivery(store, admin, interview_id=interview_id, notice_id=notice.id)
    before = decide_for_interview(store, PolicyAction.RUN_AI_SCORING, interview_id)
    assert before.allowed and "human_review" not in before.requirements

    refusal = consents.refuse_automated_decision(
        store,
        None,
        interview_id=interview_id,
        text_shown="我拒绝仅通过自动化决策方式作出的决定。",
        language="zh_CN",
    )
    stored = compliance_of(store).consents.get(refusal.id)
    assert stored.kind == "refuse_automated_decision" and stored.active
    assert stored.channel == "candidate" and stored.text_shown.startswith("我拒绝")
    entry = _entries(store, "consent.recorded")[-1]
    assert entry.actor == "candidate"
    assert entry.details["kind"] == "refuse_automated_decision"
    state = consents.consent_state(store, interview_id)
    assert state.has("refuse_automated_decision")

    after = decide_for_interview(store, PolicyAction.RUN_AI_SCORING, interview_id)
    assert after.allowed  # the AI may still assist ...
    assert "human_review" in after.requirements  # ... a person reviews and decides
    assert "explain_on_request" in after.requirements
    assert "ALL.refused_automated" in after.rules
    section = _gate(store, interview_id, "CN", tmp_path)
    assert "human_review" in section["analyses"]["run_ai_scoring"]["requirements"]


# --- everywhere ------------------------------------------------------------------------------


def test_ALL_1_four_fifths_check_reproduces_the_eeoc_example() -> None:
    table = bias.four_fifths({"A": (60, 100), "B": (45, 100), "C": (48, 100), "D": (51, 100)})
    a, b, c, d = (table.group(name) for name in "ABCD")
    assert (a.rate, b.rate, c.rate, d.rate) == (
        Fraction(60, 100),
        Fraction(45, 100),
        Fraction(48, 100),
        Fraction(51, 100),
    )
    assert (a.impact_ratio, b.impact_ratio, c.impact_ratio, d.impact_ratio) == (
        Fraction(1),
        Fraction(3, 4),
        Fraction(4, 5),
        Fraction(17, 20),
    )
    assert (b.ratio_text, c.ratio_text, d.ratio_text) == ("0.750", "0.800", "0.850")
    assert [g.flagged for g in (a, b, c, d)] == [False, True, False, False]
    # Why the ratios are exact fractions: in floats, 8 % against 10 % falls below 0.80.
    assert (8 / 100) / (10 / 100) < 0.8
    assert not bias.four_fifths({"A": (10, 100), "B": (8, 100)}).group("B").flagged
    assert [g.count for g in table.groups] == [100, 100, 100, 100]  # group sizes shown
    assert b.fisher_p is not None and b.fisher_p < 0.05 and not b.small_sample
    assert a.fisher_p is None  # the reference group

    # The same rates in groups of ten: flagged, with the small-sample warning next to it.
    small = bias.four_fifths({"A": (6, 10), "B": (3, 10)}).group("B")
    assert small.flagged and small.impact_ratio == Fraction(1, 2)
    assert small.fisher_p is not None and small.fisher_p > 0.05 and small.small_sample

    # Fisher's exact test (two-sided, in log space), checked against published values.
    assert bias.fisher_exact(3, 1, 1, 3) == pytest.approx(0.4857142857, rel=1e-9)
    assert bias.fisher_exact(8, 2, 1, 5) == pytest.approx(0.03496503, rel=1e-6)
    assert bias.fisher_exact(0, 0, 0, 0) == 1.0
    assert bias.fisher_exact(6, 4, 3, 7) == pytest.approx(0.3698, abs=1e-4)  # R: 0.3698


def test_fisher_agrees_with_scipy_and_stays_usable_on_audits_of_thousands() -> None:
    import random

    from scipy.stats import fisher_exact as reference

    draw = random.Random(20261207)
    for _ in range(500):
        a, b, c, d = (draw.randint(0, 80) for _ in range(4))
        expected = float(reference([[a, b], [c, d]]).pvalue)
        assert bias.fisher_exact(a, b, c, d) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # Groups of ten thousand (exact integers took minutes here): same answer as scipy.
    big = (4100, 5900, 3300, 6700)
    expected = float(reference([[big[0], big[1]], [big[2], big[3]]]).pvalue)
    assert bias.fisher_exact(*big) == pytest.approx(expected, rel=1e-6)
    table = bias.four_fifths({"A": (4100, 10_000), "B": (3300, 10_000), "C": (3000, 10_000)})
    assert table.group("C").flagged and not table.group("C").small_sample


# --- the pages -------------------------------------------------------------------------------


@pytest.fixture
def site(appliance: Appliance, store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The web app with the compliance blueprint (registered here until the lead wires it)."""
    from webui import create_app, views
    from webui.views import compliance as compliance_views

    wired = views.blueprints
    if compliance_views.bp not in wired():
        monkeypatch.setattr(views, "blueprints", lambda: [*wired(), compliance_views.bp])
    app = create_app(appliance.config, store)
    app.config.update(TESTING=True, SESSION_COOKIE_SECURE=False)
    yield app


def _client(app: Flask, store: Store, username: str, role: str, regions: list[str]) -> Any:
    make_user(store, username, role, departments=["*"], regions=regions)
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _token(client: Any, path: str) -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


def test_pages_notices_are_written_and_published_only_when_complete(
    site: Flask, store: Store
) -> None:
    client = _client(site, store, "hr.admin", "hr_admin", ["*"])
    assert client.get("/compliance/notices").status_code == 200
    token = _token(client, "/compliance/notices/new")
    # CSRF is on.
    assert client.post("/compliance/notices/new", data={"region": "EU"}).status_code == 400
    reply = client.post(
        "/compliance/notices/new",
        data={
            "csrf_token": token,
            "region": "EU",
            "language": "en",
            "controller": FULL_NOTICE["controller"],
            "purposes": FULL_NOTICE["purposes"],
        },
    )
    assert reply.status_code == 302
    show = reply.headers["Location"]
    page = client.get(show).get_data(as_text=True)
    assert "How long the data are kept" in page and "Publish" in page
    notice_id = int(re.findall(r"/compliance/notices/(\d+)", show)[0])
    refused = client.post(
        f"/compliance/notices/{notice_id}/publish",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    html = refused.get_data(as_text=True)
    assert "cannot be published" in html and "Automated evaluation" in html
    assert not compliance_of(store).notices.get(notice_id).published
    assert client.get(f"/compliance/notices/{notice_id}/edit").status_code == 200
    client.post(f"/compliance/notices/{notice_id}/edit", data={"csrf_token": token, **FULL_NOTICE})
    done = client.post(
        f"/compliance/notices/{notice_id}/publish",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "is published" in done.get_data(as_text=True)
    assert compliance_of(store).notices.get(notice_id).published
    assert client.post("/compliance/notices/new", data={"csrf_token": token}).status_code == 422


def test_pages_consents_are_recorded_by_hr(site: Flask, store: Store) -> None:
    admin = _person(store, "setup")
    notice = _published_notice(store, admin, "US-IL")
    interview_id = _interview(store, "US-IL")
    client = _client(site, store, "rita", "recruiter", ["US-IL"])
    path = f"/compliance/interviews/{interview_id}/consents"
    page = client.get(path)
    assert page.status_code == 200 and "AI scoring" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    bad = client.post(
        path,
        data={
            "csrf_token": token,
            "kind": "ai_evaluation",
            "text_shown": "I agree.",
            "language": "en",
        },
    )
    assert bad.status_code == 422 and "notice" in bad.get_data(as_text=True)
    reply = client.post(
        path,
        data={
            "csrf_token": token,
            "kind": "ai_evaluation",
            "text_shown": "I agree.",
            "language": "en",
            "notice_id": str(notice.id),
        },
    )
    assert reply.status_code == 302
    assert consents.consent_state(store, interview_id).has("ai_evaluation")
    assert decide_for_interview(store, PolicyAction.RUN_AI_SCORING, interview_id).allowed
    delivered = client.post(
        f"/compliance/interviews/{interview_id}/deliveries",
        data={"csrf_token": token, "notice_id": str(notice.id)},
    )
    assert delivered.status_code == 302
    record = consents.consent_state(store, interview_id).records[0]
    withdrawn = client.post(f"{path}/{record.id}/withdraw", data={"csrf_token": token})
    assert withdrawn.status_code == 302
    assert not consents.consent_state(store, interview_id).has("ai_evaluation")
    # Another region's interview is not found for this recruiter.
    other = _interview(store, "EU", name="Someone Else")
    assert client.get(f"/compliance/interviews/{other}/consents").status_code == 404


def test_pages_region_settings_refuse_affect_in_the_eu(site: Flask, store: Store) -> None:
    client = _client(site, store, "hr.admin", "hr_admin", ["*"])
    token = _token(client, "/compliance/settings")
    refused = client.post(
        "/compliance/settings", data={"csrf_token": token, "region": "EU", "affect": "on"}
    )
    assert refused.status_code == 422
    assert "AI Act" in refused.get_data(as_text=True)
    assert _entries(store, "policy.refused")[-1].details["regions"] == ["EU"]
    saved = client.post(
        "/compliance/settings", data={"csrf_token": token, "region": "US-NYC", "visual_cues": "on"}
    )
    assert saved.status_code == 302
    assert compliance_of(store).region_settings.get("US-NYC").visual_cues_enabled
    assert client.post("/compliance/settings", data={"csrf_token": token}).status_code == 422


def test_pages_holiday_calendar(site: Flask, store: Store) -> None:
    client = _client(site, store, "hr.admin", "hr_admin", ["US-NYC"])
    token = _token(client, "/compliance/holidays")
    added = client.post(
        "/compliance/holidays",
        data={
            "csrf_token": token,
            "region": "US-NYC",
            "day": "2025-07-04",
            "name": "Independence Day",
        },
    )
    assert added.status_code == 302
    assert "Independence Day" in client.get("/compliance/holidays").get_data(as_text=True)
    assert (
        client.post(
            "/compliance/holidays",
            data={"csrf_token": token, "region": "EU", "day": "2025-07-04", "name": "X"},
        ).status_code
        == 403
    )
    removed = client.post(
        "/compliance/holidays/delete",
        data={"csrf_token": token, "region": "US-NYC", "day": "2025-07-04"},
    )
    assert removed.status_code == 302
    assert business_days.holiday_dates(store, "US-NYC") == set()


def test_pages_an_auditor_reads_the_bias_audit_and_nothing_else_of_candidates(
    site: Flask, store: Store
) -> None:
    admin = _person(store, "hr.compliance")
    with store.transaction():
        ny = store.requisitions.create("Analyst", "Finance", "New York", "US-NYC")
    candidate_ids = [
        _assessed_candidate(
            store,
            ny.id,
            admin.user_id,
            name=name,
            sex=sex,
            race="White",
            score=score,
            decision=decision,
        )
        for name, sex, score, decision in [
            ("Zed Visible", "Male", 7.0, "advance"),
            ("Yan Hidden", "Female", 5.0, "reject"),
            ("Xia Private", "Female", 6.0, "reject"),
        ]
    ]
    client = _client(site, store, "ivy.auditor", "auditor", ["US-NYC"])
    page = client.get("/compliance/bias?region=US-NYC")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Impact ratio" in html and "below 0.80: flagged" in html
    assert re.search(r'id="individuals">3<', html)
    for name in ("Zed Visible", "Yan Hidden", "Xia Private"):
        assert name not in html
    token = csrf_token_from(html)
    published = client.post(
        "/compliance/bias/publish",
        data={"csrf_token": token, "region": "US-NYC", "data_source": "Appliance"},
    )
    assert published.status_code == 302
    assert compliance_of(store).bias_audits.for_region("US-NYC")
    # Nothing else of candidates, and no other region.
    interview_id = store.interviews.for_candidate(candidate_ids[0])[0].id
    for path in (
        "/candidates",
        f"/candidates/{candidate_ids[0]}",
        "/compliance/notices",
        f"/compliance/interviews/{interview_id}/consents",
        "/compliance/settings",
        "/compliance/holidays",
        "/compliance/bias?region=EU",
    ):
        assert client.get(path).status_code == 403, path
    assert (
        client.post(
            f"/compliance/interviews/{interview_id}/consents", data={"csrf_token": token}
        ).status_code
        == 403
    )
    il = client.get("/compliance/bias/illinois")
    assert il.status_code == 403  # this auditor's scope does not reach Illinois
    il_client = _client(site, store, "ian.auditor", "auditor", ["US-IL"])
    report = il_client.get("/compliance/bias/illinois?year=2025")
    assert report.status_code == 200
    assert "Interviewed in person" in report.get_data(as_text=True)
    assert "2025-12-31" in report.get_data(as_text=True)
