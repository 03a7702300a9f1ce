"""The region policy: ONE versioned table of rules (data, each with its legal source) and `may`.

The table mirrors the matrix of `shared/compliance/REGIONS.md`. A rule belongs to one region
(or to every region, "*") and one action, and says `never`, `if` (allowed when every
condition holds) or `allowed`, with the obligations that come with a permission. When
several regions apply (the requisition's region and the candidate's residence), every
applicable rule must allow the action: the stricter rule wins, conditions and obligations
add up. Facts the rules ask about come from the caller's context or, for an interview, from
the store (consents, notices, region settings, bias audits); a fact nobody can establish is
false, so the policy fails closed. Every refusal is written to the audit log
(`policy.refused`) when a store is given.

Change a rule here (and bump POLICY_VERSION), not at the places that ask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from appliance.compliance.business_days import add_business_days_at, holiday_dates
from appliance.compliance.common import normalize_regions, parse_moment, regions_for_interview
from appliance.compliance.consents import (
    AI_EVALUATION,
    BIOMETRIC,
    REFUSE_AUTOMATED_DECISION,
    VISUAL_CUES,
    consent_state,
)
from appliance.platform.clock import from_stamp, utcnow
from appliance.store import Store
from appliance.store.compliance import compliance_of

logger = logging.getLogger(__name__)

POLICY_VERSION = "2025-06.2"
EVERY_REGION = "*"


class PolicyAction(StrEnum):
    """What the policy decides on."""

    RUN_AFFECT_ANALYSIS = "run_affect_analysis"  # emotion / affect inference from face or voice
    RUN_VISUAL_CUES = "run_visual_cues"  # face presence, gaze, smile ratio (face tracking)
    RUN_BIOMETRICS = "run_biometrics"  # facial templates, voiceprints
    RUN_AI_SCORING = "run_ai_scoring"  # AI evaluation of the interview (competency scores)
    EXPORT_OUTSIDE_REGION = "export_outside_region"
    SHARE_VIDEO = "share_video"
    # A candidate's voluntary sex and race/ethnicity, for bias audits only.
    COLLECT_SELF_ID = "collect_self_identification"


class Fact(StrEnum):
    """What a rule's condition asks; true only when established (fail closed)."""

    AFFECT_ENABLED = "setting.affect_enabled"
    VISUAL_CUES_ENABLED = "setting.visual_cues_enabled"
    CONSENT_VISUAL_CUES = "consent.visual_cues"
    CONSENT_VISUAL_CUES_BEFORE = "consent.visual_cues.before_interview"
    CONSENT_AI_BEFORE = "consent.ai_evaluation.before_interview"
    CONSENT_BIOMETRIC = "consent.biometric"
    WAIVER_FACIAL_BEFORE = "waiver.facial_recognition.before_interview"
    NOTICE_GIVEN = "notice.given"
    NOTICE_WAIT_OVER = "notice.waiting_period_over"
    BIAS_AUDIT_CURRENT = "bias_audit.current"
    REFUSED_AUTOMATED_DECISION = "candidate.refused_automated_decision"
    INCLUDES_VIDEO = "export.includes_video"
    RECIPIENT_ALLOWED = "recipient.allowed_by_controller"
    RECIPIENT_ON_ALLOW_LIST = "recipient.on_evaluation_allow_list"
    REASON_GIVEN = "reason.given"
    CROSS_BORDER_ENABLED = "export.cross_border_enabled"
    CONSENT_SELF_ID = "consent.self_identification"


# Facts that are settings of one region: asked for the region of the rule that asks.
PER_REGION_FACTS = (Fact.AFFECT_ENABLED, Fact.VISUAL_CUES_ENABLED)

FACT_TEXT: dict[Fact, str] = {
    Fact.AFFECT_ENABLED: "affect analysis enabled for the region",
    Fact.VISUAL_CUES_ENABLED: "visual-cue analysis enabled for the region",
    Fact.CONSENT_VISUAL_CUES: "the candidate's consent to visual-cue analysis",
    Fact.CONSENT_VISUAL_CUES_BEFORE: (
        "the candidate's consent to visual-cue analysis, given before the interview started"
    ),
    Fact.CONSENT_AI_BEFORE: (
        "the candidate's consent to AI evaluation, given before the interview started after a"
        " notice explaining how the AI works"
    ),
    Fact.CONSENT_BIOMETRIC: "a separate consent to biometric processing",
    Fact.WAIVER_FACIAL_BEFORE: (
        "a signed facial-recognition waiver (name, interview date, read or not) signed before"
        " the interview started"
    ),
    Fact.NOTICE_GIVEN: "a published notice given to the candidate",
    Fact.NOTICE_WAIT_OVER: "the notice sent at least 10 business days before the assessment",
    Fact.BIAS_AUDIT_CURRENT: "a published bias audit at most one year old",
    Fact.REFUSED_AUTOMATED_DECISION: "the candidate refused a solely automated decision",
    Fact.INCLUDES_VIDEO: "the export includes video",
    Fact.RECIPIENT_ALLOWED: "a recipient the controller allows",
    Fact.RECIPIENT_ON_ALLOW_LIST: "a recipient on the evaluation allow-list",
    Fact.REASON_GIVEN: "a reason for sharing, logged",
    Fact.CROSS_BORDER_ENABLED: "cross-border export enabled for the region",
    Fact.CONSENT_SELF_ID: (
        "the candidate's explicit, separate consent to the use of their declared sex and"
        " race/ethnicity in bias audits"
    ),
}


class Obligation(StrEnum):
    """What comes with a permission."""

    HUMAN_OVERSIGHT = "human_oversight"  # a person can override every AI score and stop scoring
    HUMAN_REVIEW = "human_review"  # a person reviews before any decision; AI is never alone
    NEVER_FOR_SCORE = "never_for_score"  # shown to reviewers, never an input to a score
    EXPLAIN_ON_REQUEST = "explain_on_request"
    LOG_REASON = "log_reason"
    COUNT_EXPORT = "count_export"  # CN-3: individuals exported per year, sensitive separately
    AUDIT_ONLY = "audit_only"  # counted in bias audits only: never shown to people nor scored


class Effect(StrEnum):
    """What a rule says."""

    NEVER = "never"
    IF = "if"
    ALLOWED = "allowed"


@dataclass(frozen=True)
class Rule:
    """One cell of the policy matrix."""

    id: str
    region: str
    action: PolicyAction
    effect: Effect
    summary: str
    source: str
    conditions: tuple[Fact, ...] = ()
    obligations: tuple[Obligation, ...] = ()
    when: Fact | None = None  # the rule applies only when this fact holds
    refs: tuple[str, ...] = ()  # rule ids of REGIONS.md


@dataclass(frozen=True)
class RegionProfile:
    """The numbers and texts of a region that are not allow/refuse rules."""

    region: str
    timezone: str
    notice_lead_business_days: int  # NY-1
    bias_audit_max_age_days: int | None  # NY: at most a year old
    erasure: str  # how fast an erasure request is answered
    erasure_days: int | None  # None: per the published policy or not set by law
    decision_log_min_days: int | None  # AI decision logs kept at least this long
    bias_reporting: str
    source: str


# fmt: off
A, F, Ob, E = PolicyAction, Fact, Obligation, Effect
_OFF = "off by default"
_AI_ACT_5 = "AI Act (EU) 2024/1689 Art. 5(1)(f), applies since 2 Feb 2025"
_GDPR_9 = "GDPR Art. 9(2)(a), Art. 6(1)(a)"
_LL144 = "NYC Local Law 144 of 2021, Admin. Code 20-870 to 20-874; 6 RCNY 5-300 ff."
_AIVIA = "Illinois Artificial Intelligence Video Interview Act, 820 ILCS 42"
_BIPA = "Illinois Biometric Information Privacy Act, 740 ILCS 14/15(b)"
_MD = "Maryland Labor and Employment Art. 3-717 (HB 1202, 2020)"
_PIPL = "China Personal Information Protection Law (PIPL)"
_BASE = "appliance default (conservative baseline)"
_VOLUNTARY = "voluntary, for bias audits only"

RULES: tuple[Rule, ...] = (
    # --- emotion / affect inference --------------------------------------------------------
    Rule("EU.affect", "EU", A.RUN_AFFECT_ANALYSIS, E.NEVER,
         "emotion recognition in the workplace is prohibited", _AI_ACT_5, refs=("EU-1",)),
    Rule("NYC.affect", "US-NYC", A.RUN_AFFECT_ANALYSIS, E.IF, _OFF, _LL144,
         (F.AFFECT_ENABLED, F.CONSENT_VISUAL_CUES)),
    Rule("IL.affect", "US-IL", A.RUN_AFFECT_ANALYSIS, E.IF, _OFF, f"{_AIVIA} 42/5",
         (F.AFFECT_ENABLED, F.CONSENT_AI_BEFORE, F.CONSENT_VISUAL_CUES_BEFORE)),
    Rule("MD.affect", "US-MD", A.RUN_AFFECT_ANALYSIS, E.IF, _OFF, _MD,
         (F.AFFECT_ENABLED, F.WAIVER_FACIAL_BEFORE)),
    Rule("CN.affect", "CN", A.RUN_AFFECT_ANALYSIS, E.IF, _OFF, f"{_PIPL} Art. 28-29",
         (F.AFFECT_ENABLED, F.CONSENT_BIOMETRIC)),
    Rule("default.affect", "default", A.RUN_AFFECT_ANALYSIS, E.IF, _OFF, _BASE,
         (F.AFFECT_ENABLED, F.CONSENT_VISUAL_CUES)),
    # --- visual behaviour cues (no emotion labels) -----------------------------------------
    Rule("EU.visual", "EU", A.RUN_VISUAL_CUES, E.IF,
         "off by default; on only with explicit consent, never used for a score", _GDPR_9,
         (F.VISUAL_CUES_ENABLED, F.CONSENT_VISUAL_CUES), (Ob.NEVER_FOR_SCORE,)),
    Rule("NYC.visual", "US-NYC", A.RUN_VISUAL_CUES, E.IF, "with consent", _LL144,
         (F.VISUAL_CUES_ENABLED, F.CONSENT_VISUAL_CUES)),
    Rule("IL.visual", "US-IL", A.RUN_VISUAL_CUES, E.IF, "with consent before the interview",
         f"{_AIVIA} 42/5", (F.VISUAL_CUES_ENABLED, F.CONSENT_AI_BEFORE,
                            F.CONSENT_VISUAL_CUES_BEFORE), refs=("IL-1",)),
    Rule("MD.visual", "US-MD", A.RUN_VISUAL_CUES, E.IF,
         "face tracking only after a signed facial-recognition waiver", _MD,
         (F.VISUAL_CUES_ENABLED, F.WAIVER_FACIAL_BEFORE), refs=("MD-1",)),
    Rule("CN.visual", "CN", A.RUN_VISUAL_CUES, E.IF, "separate consent for biometrics",
         f"{_PIPL} Art. 28-29", (F.VISUAL_CUES_ENABLED, F.CONSENT_BIOMETRIC), refs=("CN-1",)),
    Rule("default.visual", "default", A.RUN_VISUAL_CUES, E.IF, "with consent", _BASE,
         (F.VISUAL_CUES_ENABLED, F.CONSENT_VISUAL_CUES)),
    # --- biometric processing (facial templates, voiceprints) ------------------------------
    Rule("EU.biometric", "EU", A.RUN_BIOMETRICS, E.IF, "explicit consent", _GDPR_9,
         (F.VISUAL_CUES_ENABLED, F.CONSENT_BIOMETRIC), (Ob.NEVER_FOR_SCORE,)),
    Rule("NYC.biometric", "US-NYC", A.RUN_BIOMETRICS, E.IF, "with consent", _LL144,
         (F.VISUAL_CUES_ENABLED, F.CONSENT_BIOMETRIC)),
    Rule("IL.biometric", "US-IL", A.RUN_BIOMETRICS, E.IF,
         "written release and consent before the interview", f"{_BIPA}; {_AIVIA} 42/5",
         (F.VISUAL_CUES_ENABLED, F.CONSENT_AI_BEFORE, F.CONSENT_BIOMETRIC)),
    Rule("MD.biometric", "US-MD", A.RUN_BIOMETRICS, E.IF,
         "facial template only after a signed facial-recognition waiver", _MD,
         (F.VISUAL_CUES_ENABLED, F.WAIVER_FACIAL_BEFORE), refs=("MD-1",)),
    Rule("CN.biometric", "CN", A.RUN_BIOMETRICS, E.IF,
         "separate consent for biometrics, distinct from the general notice",
         f"{_PIPL} Art. 28-29", (F.VISUAL_CUES_ENABLED, F.CONSENT_BIOMETRIC), refs=("CN-1",)),
    Rule("default.biometric", "default", A.RUN_BIOMETRICS, E.IF, "with consent", _BASE,
         (F.VISUAL_CUES_ENABLED, F.CONSENT_BIOMETRIC)),
    # --- AI scoring ------------------------------------------------------------------------
    Rule("EU.scoring", "EU", A.RUN_AI_SCORING, E.IF,
         "notice that a high-risk AI system is used; human oversight",
         "AI Act Art. 14, 26(7), 26(11), Annex III(4)(a); GDPR Art. 13, 22",
         (F.NOTICE_GIVEN,), (Ob.HUMAN_OVERSIGHT,), refs=("EU-2", "EU-3", "EU-6")),
    Rule("NYC.scoring", "US-NYC", A.RUN_AI_SCORING, E.IF,
         "notice at least 10 business days before use; bias audit at most one year old",
         f"{_LL144}, 20-871(a), 20-871(b)", (F.NOTICE_WAIT_OVER, F.BIAS_AUDIT_CURRENT),
         refs=("NY-1", "NY-2")),
    Rule("IL.scoring", "US-IL", A.RUN_AI_SCORING, E.IF,
         "notice, explanation and consent before the interview", f"{_AIVIA} 42/5",
         (F.CONSENT_AI_BEFORE,), refs=("IL-1",)),
    Rule("MD.scoring", "US-MD", A.RUN_AI_SCORING, E.ALLOWED, "no precondition", _MD),
    Rule("CN.scoring", "CN", A.RUN_AI_SCORING, E.IF,
         "notice; explanation on request; right to refuse a solely automated decision",
         f"{_PIPL} Art. 17, 24", (F.NOTICE_GIVEN,), (Ob.EXPLAIN_ON_REQUEST,), refs=("CN-2",)),
    Rule("default.scoring", "default", A.RUN_AI_SCORING, E.IF, "notice", _BASE,
         (F.NOTICE_GIVEN,)),
    Rule("ALL.refused_automated", EVERY_REGION, A.RUN_AI_SCORING, E.ALLOWED,
         "the candidate refused a solely automated decision: a person reviews and decides",
         f"{_PIPL} Art. 24(3); GDPR Art. 22", (), (Ob.HUMAN_REVIEW, Ob.EXPLAIN_ON_REQUEST),
         when=F.REFUSED_AUTOMATED_DECISION, refs=("CN-2",)),
    # --- export outside the region ---------------------------------------------------------
    Rule("EU.export", "EU", A.EXPORT_OUTSIDE_REGION, E.IF,
         "only to recipients the controller allows", "GDPR Art. 28, 44-49",
         (F.RECIPIENT_ALLOWED,)),
    Rule("NYC.export", "US-NYC", A.EXPORT_OUTSIDE_REGION, E.ALLOWED, "no restriction", _LL144),
    Rule("IL.export", "US-IL", A.EXPORT_OUTSIDE_REGION, E.IF,
         "videos only to people needed to evaluate, with a logged reason", f"{_AIVIA} 42/10",
         (F.RECIPIENT_ON_ALLOW_LIST, F.REASON_GIVEN), (Ob.LOG_REASON,),
         when=F.INCLUDES_VIDEO, refs=("IL-2",)),
    Rule("MD.export", "US-MD", A.EXPORT_OUTSIDE_REGION, E.ALLOWED, "no restriction", _MD),
    Rule("CN.export", "CN", A.EXPORT_OUTSIDE_REGION, E.IF,
         "off by default; individuals exported are counted per year", f"{_PIPL} Art. 38-40",
         (F.CROSS_BORDER_ENABLED,), (Ob.COUNT_EXPORT,), refs=("CN-3",)),
    Rule("default.export", "default", A.EXPORT_OUTSIDE_REGION, E.ALLOWED, "allowed", _BASE),
    # --- sharing a video -------------------------------------------------------------------
    Rule("EU.share", "EU", A.SHARE_VIDEO, E.IF, "only to recipients the controller allows",
         "GDPR Art. 5(1)(b), 28", (F.RECIPIENT_ALLOWED,), (Ob.LOG_REASON,)),
    Rule("NYC.share", "US-NYC", A.SHARE_VIDEO, E.ALLOWED, "no restriction", _LL144),
    Rule("IL.share", "US-IL", A.SHARE_VIDEO, E.IF,
         "only to people on the evaluation allow-list, with a logged reason",
         f"{_AIVIA} 42/10", (F.RECIPIENT_ON_ALLOW_LIST, F.REASON_GIVEN), (Ob.LOG_REASON,),
         refs=("IL-2",)),
    Rule("MD.share", "US-MD", A.SHARE_VIDEO, E.ALLOWED, "no restriction", _MD),
    Rule("CN.share", "CN", A.SHARE_VIDEO, E.ALLOWED, "within China; export is separate",
         f"{_PIPL} Art. 23", (), (Ob.LOG_REASON,)),
    Rule("default.share", "default", A.SHARE_VIDEO, E.ALLOWED, "allowed", _BASE),
    # --- voluntary self-identification (sex, race/ethnicity) -------------------------------
    # Racial or ethnic origin is special-category (EU) or sensitive (CN) data: asked only with
    # an opt-in consent of its own. Where no bias reporting applies there is no purpose, so
    # nothing is asked (data minimisation).
    Rule("EU.self_id", "EU", A.COLLECT_SELF_ID, E.IF,
         f"{_VOLUNTARY}; explicit opt-in consent to special-category data (racial or ethnic"
         " origin) for bias monitoring", "GDPR Art. 9(1), 9(2)(a); AI Act Art. 10(5)",
         (F.CONSENT_SELF_ID,), (Ob.AUDIT_ONLY,)),
    Rule("NYC.self_id", "US-NYC", A.COLLECT_SELF_ID, E.ALLOWED,
         f"{_VOLUNTARY}: counted in the LL144 impact-ratio tables (undeclared: unknown)",
         f"{_LL144}, 6 RCNY 5-301", (), (Ob.AUDIT_ONLY,), refs=("NY-2",)),
    Rule("IL.self_id", "US-IL", A.COLLECT_SELF_ID, E.ALLOWED,
         f"{_VOLUNTARY}: counted in the annual race/ethnicity report", f"{_AIVIA} 42/20",
         (), (Ob.AUDIT_ONLY,), refs=("IL-4",)),
    Rule("MD.self_id", "US-MD", A.COLLECT_SELF_ID, E.NEVER,
         "not collected: no bias reporting applies in Maryland, so the data would have no"
         " purpose (data minimisation)",
         f"appliance policy (REGIONS.md: no bias reporting for US-MD); {_MD} covers only"
         " facial recognition"),
    Rule("CN.self_id", "CN", A.COLLECT_SELF_ID, E.IF,
         f"{_VOLUNTARY}; separate consent to sensitive personal information",
         f"{_PIPL} Art. 28-30", (F.CONSENT_SELF_ID,), (Ob.AUDIT_ONLY,)),
    Rule("default.self_id", "default", A.COLLECT_SELF_ID, E.IF,
         f"{_VOLUNTARY}; explicit opt-in consent, as for special-category data; counted in"
         " the four-fifths check", _BASE, (F.CONSENT_SELF_ID,), (Ob.AUDIT_ONLY,),
         refs=("ALL-1",)),
)

PROFILES: dict[str, RegionProfile] = {
    "EU": RegionProfile("EU", "Europe/Brussels", 0, None, "within 1 month", 30, 183,
                        "bias monitoring", "GDPR Art. 12(3), 17; AI Act Art. 19, 26(6)"),
    "US-NYC": RegionProfile("US-NYC", "America/New_York", 10, 365, "per published policy",
                            None, None, "LL144 impact-ratio tables", _LL144),
    "US-IL": RegionProfile("US-IL", "America/Chicago", 0, None,
                           "within 30 days, backups and recipients included", 30, None,
                           "annual race/ethnicity report if AI alone selects for in-person"
                           " interviews", f"{_AIVIA} 42/15, 42/20"),
    "US-MD": RegionProfile("US-MD", "America/New_York", 0, None, "not set by law", None, None,
                           "none", _MD),
    "CN": RegionProfile("CN", "Asia/Shanghai", 0, None, "without delay", 0, 3 * 365 + 1,
                        "none", f"{_PIPL} Art. 47, 55-56"),
    "default": RegionProfile("default", "UTC", 0, None, "within 30 days", 30, 183,
                             "four-fifths check", _BASE),
}
del A, F, Ob, E
# fmt: on


@dataclass(frozen=True)
class Decision:
    """The policy's answer.

    `requirements`: when refused, the facts that are missing (empty for a prohibition); when
    allowed, the obligations that come with the permission (e.g. "human_review").
    """

    allowed: bool
    reason: str
    requirements: list[str] = field(default_factory=list)
    action: str = ""
    regions: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    policy_version: str = POLICY_VERSION

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "requirements": list(self.requirements),
            "action": self.action,
            "regions": list(self.regions),
            "rules": list(self.rules),
            "policy_version": self.policy_version,
        }


def rules_for(action: PolicyAction, regions: list[str]) -> list[Rule]:
    """The rules of the table that speak about `action` in any of `regions` (and everywhere)."""
    return [
        rule
        for rule in RULES
        if rule.action is action and (rule.region in regions or rule.region == EVERY_REGION)
    ]


def prohibition(action: PolicyAction, region: str) -> Rule | None:
    """The rule that forbids `action` in `region` outright, if any."""
    return next(
        (
            rule
            for rule in RULES
            if rule.action is action and rule.region == region and rule.effect is Effect.NEVER
        ),
        None,
    )


def _one_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _bias_audit_current(store: Store, region: str, at: datetime) -> bool:
    profile = PROFILES[region]
    if profile.bias_audit_max_age_days is None:
        return False
    today = at.date()
    oldest = (
        _one_year_before(today)
        if profile.bias_audit_max_age_days == 365
        else today - timedelta(days=profile.bias_audit_max_age_days)
    )
    return any(
        oldest <= date.fromisoformat(audit.audit_date) <= today
        for audit in compliance_of(store).bias_audits.for_region(region)
    )


def notice_wait_over_at(store: Store, region: str, notice_sent_at: str) -> datetime:
    """When the notice's waiting period (business days of `region`) ends (NY-1)."""
    profile = PROFILES[region]
    return add_business_days_at(
        from_stamp(notice_sent_at),
        profile.notice_lead_business_days,
        holiday_dates(store, region),
        profile.timezone,
    )


def facts_for_interview(
    store: Store, interview_id: int, regions: list[str], at: datetime
) -> dict[str, bool]:
    """Every fact the store can establish for an interview at time `at`."""
    state = consent_state(store, interview_id)
    facts: dict[str, bool] = {
        Fact.CONSENT_VISUAL_CUES: state.has(VISUAL_CUES),
        Fact.CONSENT_VISUAL_CUES_BEFORE: state.given_before_start(VISUAL_CUES),
        Fact.CONSENT_AI_BEFORE: state.given_before_start(AI_EVALUATION, with_notice=True),
        Fact.CONSENT_BIOMETRIC: state.has(BIOMETRIC),
        Fact.WAIVER_FACIAL_BEFORE: state.waiver_valid(),
        Fact.NOTICE_GIVEN: state.notice_given(),
        Fact.REFUSED_AUTOMATED_DECISION: state.has(REFUSE_AUTOMATED_DECISION),
    }
    # NY-1 and the bias audit: in force for every region with a lead time / audit age.
    sent = state.first_notice_sent_at()
    lead_regions = [r for r in regions if PROFILES[r].notice_lead_business_days > 0]
    facts[Fact.NOTICE_WAIT_OVER] = sent is not None and all(
        notice_wait_over_at(store, region, sent) <= at for region in lead_regions
    )
    audit_regions = [r for r in regions if PROFILES[r].bias_audit_max_age_days is not None]
    facts[Fact.BIAS_AUDIT_CURRENT] = bool(audit_regions) and all(
        _bias_audit_current(store, region, at) for region in audit_regions
    )
    facts.update(region_setting_facts(store, regions))
    return facts


def region_setting_facts(store: Store, regions: list[str]) -> dict[str, bool]:
    """The per-region setting facts (`setting.x@REGION`)."""
    facts: dict[str, bool] = {}
    for region in regions:
        settings = compliance_of(store).region_settings.get(region)
        facts[f"{Fact.VISUAL_CUES_ENABLED}@{region}"] = settings.visual_cues_enabled
        facts[f"{Fact.AFFECT_ENABLED}@{region}"] = settings.affect_enabled
    return facts


def _holds(fact: Fact, region: str, facts: dict[str, bool]) -> bool:
    if fact in PER_REGION_FACTS:
        key = f"{fact}@{region}"
        if key in facts:
            return bool(facts[key])
    return bool(facts.get(fact.value, False))


def _context_facts(context: dict[str, Any]) -> dict[str, bool]:
    known = {fact.value for fact in Fact}
    return {
        key: bool(value)
        for key, value in context.items()
        if key in known or (key.partition("@")[0] in known and "@" in key)
    }


def may(
    store: Store | None,
    action: PolicyAction | str,
    *,
    regions: list[str],
    context: dict[str, Any],
) -> Decision:
    """May `action` happen where `regions` apply? The stricter rule wins; refusals are logged.

    `context` keys: `interview_id` (facts from the store), `at` (the time of the assessment,
    default now), `actor` and `subject` (for the audit entry), `dry_run` (a preview for a
    page: nothing was attempted, nothing is logged), and any Fact value (or
    `setting.x@REGION`) given directly, which wins over what the store says.
    """
    act = PolicyAction(action)
    applicable = normalize_regions(regions)
    at = parse_moment(context.get("at"), default=utcnow())
    facts: dict[str, bool] = {}
    interview_id = context.get("interview_id")
    if store is not None and interview_id is not None:
        facts.update(facts_for_interview(store, int(interview_id), applicable, at))
    elif store is not None:
        facts.update(region_setting_facts(store, applicable))
    given = _context_facts(context)
    for fact in PER_REGION_FACTS:  # a setting given without a region holds for all of them
        if fact.value in given:
            given.update({f"{fact}@{region}": given[fact.value] for region in applicable})
    facts.update(given)

    refusals: list[str] = []
    missing: list[str] = []
    obligations: list[str] = []
    applied: list[Rule] = []
    for rule in rules_for(act, applicable):
        if rule.when is not None and not _holds(rule.when, rule.region, facts):
            continue
        applied.append(rule)
        if rule.effect is Effect.NEVER:
            refusals.append(f"{rule.region}: {rule.summary} ({rule.source})")
            continue
        unmet = [fact for fact in rule.conditions if not _holds(fact, rule.region, facts)]
        if unmet:
            needs = "; ".join(FACT_TEXT[fact] for fact in unmet)
            refusals.append(f"{rule.region}: {rule.summary}; missing: {needs} ({rule.source})")
            missing.extend(fact.value for fact in unmet if fact.value not in missing)
        else:
            obligations.extend(o.value for o in rule.obligations if o.value not in obligations)
    if not applied:
        refusals.append(f"no rule for {act.value} in {', '.join(applicable)}")

    rule_ids = tuple(rule.id for rule in applied)
    if refusals:
        decision = Decision(
            False, " | ".join(refusals), missing, act.value, tuple(applicable), rule_ids
        )
        if store is not None and not context.get("dry_run"):
            _log_refusal(store, decision, context)
        return decision
    summaries = "; ".join(f"{rule.region}: {rule.summary}" for rule in applied)
    return Decision(
        True, f"allowed ({summaries})", obligations, act.value, tuple(applicable), rule_ids
    )


def _subject(store: Store, context: dict[str, Any]) -> str | None:
    if context.get("subject"):
        return str(context["subject"])
    if context.get("interview_id") is None:
        return None
    interview = store.interviews.get(int(context["interview_id"]))
    return store.candidates.get(interview.candidate_id).pseudonym


def _log_refusal(store: Store, decision: Decision, context: dict[str, Any]) -> None:
    details = {
        "action": decision.action,
        "regions": list(decision.regions),
        "missing": decision.requirements,
        "rules": list(decision.rules),
        "policy_version": decision.policy_version,
        "interview": context.get("interview_id"),
    }
    actor = str(context.get("actor") or "system")
    subject = _subject(store, context)
    if store.conn.in_transaction:  # part of the caller's change
        store.audit.append(actor, "policy.refused", subject=subject, details=details)
        return
    with store.transaction():
        store.audit.append(actor, "policy.refused", subject=subject, details=details)
    logger.info("policy refused %s in %s", decision.action, ",".join(decision.regions))


def decide_for_interview(
    store: Store,
    action: PolicyAction | str,
    interview_id: int,
    *,
    actor: str = "system",
    at: str | datetime | None = None,
    extra: dict[str, Any] | None = None,
    regions: list[str] | None = None,
) -> Decision:
    """`may` for an interview: its regions and facts come from the store. `regions`: the
    interview's regions as `regions_for_interview` gives them, where the caller has read its
    requisition and candidate already (`regions_of`); else they are read here."""
    context: dict[str, Any] = {**(extra or {}), "interview_id": interview_id, "actor": actor}
    if at is not None:
        context["at"] = at
    if regions is None:
        regions = regions_for_interview(store, interview_id)
    return may(store, action, regions=regions, context=context)


def policy_table() -> list[dict[str, Any]]:
    """The table as plain data (for the settings page and exports)."""
    return [
        {
            "id": rule.id,
            "region": rule.region,
            "action": rule.action.value,
            "effect": rule.effect.value,
            "summary": rule.summary,
            "source": rule.source,
            "conditions": [fact.value for fact in rule.conditions],
            "obligations": [o.value for o in rule.obligations],
            "when": rule.when.value if rule.when else None,
            "refs": list(rule.refs),
        }
        for rule in RULES
    ]
