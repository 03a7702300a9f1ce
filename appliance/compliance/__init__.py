"""Regional compliance: the policy table and `may`, notices, consents and waivers, business
days, and bias audits. The rules are those of `shared/compliance/REGIONS.md`."""

from appliance.compliance.analysis_settings import RegionPolicyError, set_region_analysis
from appliance.compliance.common import ComplianceError, regions_for_interview
from appliance.compliance.consents import (
    ConsentError,
    ConsentState,
    consent_state,
    record_consent,
    refuse_automated_decision,
    withdraw_consent,
)
from appliance.compliance.notices import NoticeError, publish_notice, record_delivery, save_notice
from appliance.compliance.policy import (
    POLICY_VERSION,
    Decision,
    PolicyAction,
    decide_for_interview,
    may,
)

__all__ = [
    "POLICY_VERSION",
    "ComplianceError",
    "ConsentError",
    "ConsentState",
    "Decision",
    "NoticeError",
    "PolicyAction",
    "RegionPolicyError",
    "consent_state",
    "decide_for_interview",
    "may",
    "publish_notice",
    "record_consent",
    "record_delivery",
    "refuse_automated_decision",
    "regions_for_interview",
    "save_notice",
    "set_region_analysis",
    "withdraw_consent",
]
