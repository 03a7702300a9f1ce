"""Voluntary self-identification: a candidate's declared sex and race/ethnicity, counted only in
bias audits (NY-2, IL-4, ALL-1).

The region policy decides (`PolicyAction.COLLECT_SELF_ID`) over every region of the candidate,
their residence and each job they interviewed for, because one declaration counts in every
region's audit: the stricter rule wins. Where the policy needs consent (EU: GDPR Art. 9(2)(a)
explicit consent; CN: PIPL Art. 29 separate consent; the default baseline), categories are only
recorded with the candidate's opt-in; declaring nothing ("prefer not to say") needs none. Where
the policy says the data are not collected, the step is not offered and a declaration is refused
(and the refusal logged).

The categories are sealed with the candidate's key (`DemographicsRepository`) and read only in
aggregate by the audits; the audit entry of a declaration names the channel, the consent and
the rules, never a category.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.compliance.bias import RACE_CATEGORIES, SEX_CATEGORIES
from appliance.compliance.common import ComplianceError, normalize_regions
from appliance.compliance.policy import Effect, Fact, PolicyAction, may, rules_for
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.compliance import compliance_of
from appliance.store.erasures import ErasureRepository
from appliance.store.people import Candidate

# What a form or the API sends for "prefer not to say"; stored as not declared (unknown).
PREFER_NOT_TO_SAY = "prefer_not_to_say"
# The version of the room's and the HR form's texts, named in each declaration's audit entry.
SELF_ID_TEXTS_VERSION = "self-id-2026.1"
CANDIDATE = "candidate"
HR = "hr"

# Why a declaration was refused (the pages word each in the viewer's language).
NOT_COLLECTED = "not_collected"
CONSENT_REQUIRED = "consent_required"
UNKNOWN_CATEGORY = "unknown_category"
STEP_OVER = "step_over"


class SelfIdError(ComplianceError):
    """A self-identification cannot be recorded; `code` says why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SelfIdOffer:
    """Whether a candidate is asked, and whether categories need their opt-in consent."""

    regions: tuple[str, ...]
    offered: bool
    consent_required: bool
    reason: str  # the policy's words (English, with the legal sources)


def candidate_regions(store: Store, candidate_id: int) -> list[str]:
    """The candidate's residence and the regions of the jobs they interviewed for."""
    return normalize_regions(ErasureRepository(store).candidate_regions(candidate_id))


def self_id_offer(store: Store, candidate_id: int) -> SelfIdOffer:
    """What the policy says about asking this candidate (a preview: nothing is logged)."""
    regions = candidate_regions(store, candidate_id)
    preview = {"dry_run": True, Fact.CONSENT_SELF_ID.value: False}
    plain = may(store, PolicyAction.COLLECT_SELF_ID, regions=regions, context=preview)
    if plain.allowed:
        return SelfIdOffer(tuple(regions), True, False, plain.reason)
    consented = {**preview, Fact.CONSENT_SELF_ID.value: True}
    with_consent = may(store, PolicyAction.COLLECT_SELF_ID, regions=regions, context=consented)
    return SelfIdOffer(tuple(regions), with_consent.allowed, True, with_consent.reason)


def category(value: str | None, categories: tuple[str, ...], what: str) -> str | None:
    """A known category, or None for blank and "prefer not to say"; SelfIdError otherwise."""
    text = (value or "").strip()
    if not text or text == PREFER_NOT_TO_SAY:
        return None
    if text not in categories:
        raise SelfIdError(
            said("unknown %(what)s category %(value)s", what=what, value=repr(text)),
            UNKNOWN_CATEGORY,
        )
    return text


def _prohibited(regions: list[str]) -> bool:
    """Whether a rule of these regions forbids collecting self-identification outright."""
    return any(
        rule.effect is Effect.NEVER for rule in rules_for(PolicyAction.COLLECT_SELF_ID, regions)
    )


def record_declaration(
    store: Store,
    candidate: Candidate,
    *,
    sex: str | None,
    race_ethnicity: str | None,
    consent: bool,
    actor: str,
    channel: str,
    language: str,
    interview_id: int | None = None,
) -> None:
    """Check the categories and the region policy, then store the declaration (audited)."""
    sex = category(sex, SEX_CATEGORIES, said("sex"))
    race_ethnicity = category(race_ethnicity, RACE_CATEGORIES, said("race/ethnicity"))
    regions = candidate_regions(store, candidate.id)
    declared = sex is not None or race_ethnicity is not None
    # Declaring nothing processes no special-category data: only a prohibition refuses it.
    context = {
        "actor": actor,
        "subject": candidate.pseudonym,
        Fact.CONSENT_SELF_ID.value: consent or not declared,
    }
    decision = may(store, PolicyAction.COLLECT_SELF_ID, regions=regions, context=context)
    if not decision.allowed:
        if _prohibited(regions):
            # The decision's reason is the policy's own words (with its legal sources): a value.
            raise SelfIdError(
                said("self-identification is not collected: %(reason)s", reason=decision.reason),
                NOT_COLLECTED,
            )
        raise SelfIdError(
            said(
                "recording these categories needs the candidate's consent: %(reason)s",
                reason=decision.reason,
            ),
            CONSENT_REQUIRED,
        )
    with store.audited(
        actor,
        "candidate.demographics_set",
        subject=candidate.pseudonym,
        channel=channel,
        interview=interview_id,
        consent=bool(consent and declared),
        language=language,
        texts_version=SELF_ID_TEXTS_VERSION,
        rules=list(decision.rules),
        policy_version=decision.policy_version,
    ):
        compliance_of(store).demographics.put(candidate.id, sex, race_ethnicity)


def set_demographics(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    sex: str | None,
    race_ethnicity: str | None,
    consent: bool = False,
    language: str = "en",
) -> None:
    """HR records what a candidate declared on paper; "prefer not to say" replaces an earlier
    declaration with unknown (e.g. when the candidate withdraws their consent)."""
    candidate = store.candidates.get_visible(
        candidate_id, require(principal, Action.EDIT_CANDIDATES)
    )
    record_declaration(
        store,
        candidate,
        sex=sex,
        race_ethnicity=race_ethnicity,
        consent=consent,
        actor=principal.actor,
        channel=HR,
        language=language,
    )
