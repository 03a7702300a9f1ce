"""The kinds of bundle, by name. New kinds register a `KindWriter` in `EXPORT_KINDS`
(consents, the DSAR log...); the built-in ones are registered below, in the order
they are offered."""

from __future__ import annotations

from appliance.exports.audit_log import write_audit_log
from appliance.exports.bias_tables import write_bias_tables
from appliance.exports.context import KindWriter
from appliance.exports.decisions_scores import write_decisions_scores
from appliance.exports.recordings import write_recordings

EXPORT_KINDS: dict[str, KindWriter] = {}


def register_kind(kind: KindWriter) -> KindWriter:
    """Add a kind of bundle (other modules add theirs: consents, DSAR log...)."""
    if kind.name in EXPORT_KINDS:
        raise ValueError(f"the export kind {kind.name} is registered already")
    EXPORT_KINDS[kind.name] = kind
    return kind


register_kind(
    KindWriter(
        "decisions_scores",
        "Per candidate pseudonym: requisition, region, decisions, AI and current scores.",
        write_decisions_scores,
    )
)
register_kind(
    KindWriter(
        "audit_log",
        "The audit log of the period (hash chain, pseudonymous, out-of-region entries redacted).",
        write_audit_log,
    )
)
register_kind(
    KindWriter(
        "bias_tables",
        "Bias audit of the period: selection and scoring rates and impact ratios by sex, "
        "race/ethnicity and both (totals per group only, no person).",
        write_bias_tables,
    )
)
register_kind(
    KindWriter(
        "recordings",
        "Interview recordings (video and audio) of the period, with their metadata.",
        write_recordings,
        media=True,
    )
)
