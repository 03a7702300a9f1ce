"""Which optional analyses each region runs: changed only within what the region policy allows."""

from __future__ import annotations

from appliance.compliance.common import REGIONS, ComplianceError, check_region
from appliance.compliance.policy import POLICY_VERSION, PolicyAction, prohibition
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.compliance import compliance_of
from appliance.store.region_settings import RegionAnalysis


class RegionPolicyError(ComplianceError):
    """A setting the region's law forbids."""


def set_region_analysis(
    store: Store, principal: Principal, region: str, visual_cues: bool, affect: bool
) -> RegionAnalysis:
    """Turn a region's optional analyses on or off; a prohibited one is refused and logged."""
    require(principal, Action.MANAGE_SETTINGS)
    check_region(region)
    actor = principal.actor
    for wanted, action in (
        (affect, PolicyAction.RUN_AFFECT_ANALYSIS),
        (visual_cues, PolicyAction.RUN_VISUAL_CUES),
    ):
        rule = prohibition(action, region) if wanted else None
        if rule is not None:
            with store.transaction():
                store.audit.append(
                    actor,
                    "policy.refused",
                    details={
                        "action": f"enable:{action.value}",
                        "regions": [region],
                        "rules": [rule.id],
                        "policy_version": POLICY_VERSION,
                    },
                )
            # The rule's summary and legal source are the policy's own words: values.
            raise RegionPolicyError(
                said(
                    "%(action)s cannot be enabled in %(region)s: %(summary)s (%(source)s)",
                    action=action.value,
                    region=region,
                    summary=rule.summary,
                    source=rule.source,
                )
            )
    repo = compliance_of(store).region_settings
    with store.audited(actor, "region_analysis.changed", region=region) as entry:
        settings = repo.put(region, bool(visual_cues), bool(affect), principal.user_id)
        entry.details.update(
            visual_cues_enabled=settings.visual_cues_enabled,
            affect_enabled=settings.affect_enabled,
        )
    return settings


def region_analysis(store: Store) -> list[RegionAnalysis]:
    """Every region's optional-analysis settings."""
    repo = compliance_of(store).region_settings
    return [repo.get(region) for region in REGIONS]
