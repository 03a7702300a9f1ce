"""NY-3: a published bias-audit summary as it is posted: read back (region checked) and laid out
as flat rows for a CSV, one per outcome, dimension and category, with the audit's date, data
source, period and the unknowns beside every row so a row read alone still says what it is."""

from __future__ import annotations

from typing import Any

from appliance.compliance.bias import exclusion_base_of
from appliance.compliance.common import require_region
from appliance.platform.errors import NotFoundError
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal
from appliance.store import Store
from appliance.store.bias_audits import PublishedAudit
from appliance.store.compliance import compliance_of

CSV_COLUMNS = (
    "audit_date",
    "published_at",
    "region",
    "data_source",
    "period_start",
    "period_end",
    "individuals",
    "outcome",
    "dimension",
    "category",
    "count",
    "selected_or_scored_above_median",
    "rate",
    "impact_ratio",
    "flagged_below_0_80",
    "excluded_under_2_percent",
    "exclusion_base",
    "unknown_in_dimension",
    "median_score",
)


def published_audit(store: Store, principal: Principal, audit_id: int) -> PublishedAudit:
    """One published summary, for a person who may view bias audits in its region."""
    found = compliance_of(store).bias_audits.published(audit_id)
    if found is None:
        raise NotFoundError(said("no such published audit"))
    require_region(principal, Action.VIEW_BIAS_AUDIT, found.region)
    return found


def tables_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every table of a stored summary, selection first, each with its outcome."""
    tables = []
    for outcome in ("selection", "scoring"):
        for table in summary.get(outcome) or []:
            if isinstance(table, dict):
                tables.append({**table, "outcome": table.get("outcome") or outcome})
    return tables


def csv_rows(audit: PublishedAudit) -> list[list[Any]]:
    """The summary as CSV rows (header first)."""
    summary = audit.summary
    period = summary.get("period") or {}
    unknown = summary.get("unknown") or {}
    base = exclusion_base_of(summary)
    rows: list[list[Any]] = [list(CSV_COLUMNS)]
    for table in tables_of(summary):
        dimension = str(table.get("dimension", ""))
        for group in table.get("groups") or []:
            rows.append(
                [
                    audit.audit_date,
                    audit.published_at,
                    audit.region,
                    audit.data_source,
                    period.get("start") or "",
                    period.get("end") or "",
                    summary.get("individuals", ""),
                    table["outcome"],
                    dimension,
                    group.get("category", ""),
                    group.get("count", ""),
                    group.get("positives", ""),
                    "" if group.get("rate") is None else group["rate"],
                    "" if group.get("impact_ratio") is None else group["impact_ratio"],
                    "yes" if group.get("flagged") else "no",
                    "yes" if group.get("excluded") else "no",
                    base,
                    table.get("unknown", unknown.get(dimension, "")),
                    "" if table.get("median") is None else table["median"],
                ]
            )
    return rows


__all__ = ["CSV_COLUMNS", "csv_rows", "published_audit", "tables_of"]
