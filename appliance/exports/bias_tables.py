"""The `bias_tables` kind: the NY-2 bias audit of the region and period as an auditor re-reads
it: selection and scoring rates and impact ratios by sex, race/ethnicity and their
intersection, computed by `appliance.compliance.bias`. Aggregates only: no pseudonym, no
person-level row.

Two tables: `bias_tables`, one row per (outcome, dimension, category), and `bias_summary`, one
row per (outcome, dimension) with its unknown count, total and median. Both carry the audit
date, the data source and the period; the manifest (signed) repeats them under `bias_audit`.
No category is left out of the ratios (exports have no such option): `excludable` marks those
under 2 % of the default base, with the counts an auditor needs to decide for themselves.
"""

from __future__ import annotations

from typing import Any

from appliance.compliance import bias
from appliance.exports.bundle import BundleWriter, Table
from appliance.exports.context import ExportContext
from appliance.exports.rules import is_china_data
from appliance.platform.clock import utcnow

AUDIT_COLUMNS = ("region", "audit_date", "data_source", "period_start", "period_end")
GROUP_COLUMNS = (
    *AUDIT_COLUMNS,
    "outcome",
    "dimension",
    "category",
    "count",
    "positives",
    "rate",
    "impact_ratio",
    "exact_rate",
    "exact_impact_ratio",
    "share",
    "excludable",
    "excluded",
    "flagged",
    "fisher_p",
    "small_sample",
    "undefined",
    "unknown",
    "median",
    "exclusion_base",
    "exclusion_denominator",
)
SUMMARY_COLUMNS = (
    *AUDIT_COLUMNS,
    "outcome",
    "dimension",
    "individuals",
    "total",
    "unknown",
    "median",
    "undefined",
    "categories",
    "flagged",
    "exclude_small",
    "exclusion_base",
    "exclusion_denominator",
    "four_fifths_threshold",
    "excludable_share",
)


def write_bias_tables(ctx: ExportContext, bundle: BundleWriter) -> None:
    """The region's bias audit over the period (AI report time in it), as aggregate tables.

    The people counted are those the kind's rules admit: candidates of the region's jobs;
    China-region candidates only when they may cross to this recipient (CN-3, counted then,
    as in every kind), else withheld from the counts.
    """
    export = ctx.export
    groups = bundle.table("bias_tables", GROUP_COLUMNS, formats=("csv",))
    summaries = bundle.table("bias_summary", SUMMARY_COLUMNS, formats=("csv",))
    people = bias.collect_people(
        ctx.store,
        [export.region],
        export.period_start,
        export.period_end,
        admit=lambda candidate_ids: _admitted(ctx, candidate_ids),
    )
    ctx.progress(0.3, "bias_tables")
    summary = bias.compute_summary(
        people,
        region=export.region,
        audit_date=utcnow().date(),
        period_start=export.period_start,
        period_end=export.period_end,
    )
    ctx.progress(0.9, "bias_tables")
    audit = {
        "region": summary.region,
        "audit_date": summary.audit_date,
        "data_source": summary.data_source,
        "period_start": summary.period_start,
        "period_end": summary.period_end,
    }
    for table in (*summary.selection, *summary.scoring):
        _write_table(groups, summaries, audit, table, summary)
    bundle.notes["bias_audit"] = {
        **audit,
        "individuals": summary.individuals,
        "unknown": dict(summary.unknown),
        "exclude_small_categories": summary.exclude_small,
        "exclusion_base": summary.exclusion_base,
        "excludable_share": float(bias.EXCLUDABLE_SHARE),
        "four_fifths_threshold": float(bias.FOUR_FIFTHS),
        "selection": "advanced or hired for a job of the region",
        "scoring": "overall score strictly above the median of all scores of the sample",
    }
    ctx.progress(1.0, "bias_tables")


def _admitted(ctx: ExportContext, candidate_ids: list[int]) -> set[int]:
    """The assessed candidates this bundle may count (CN-3), looked up in batches."""
    admitted: set[int] = set()
    size = max(1, ctx.batch_size)
    for first in range(0, len(candidate_ids), size):
        places = ctx.repo.residences(candidate_ids[first : first + size])
        for candidate_id, (pseudonym, residence) in places.items():
            # The pseudonym only keys the CN-3 tally; it is never written into the bundle.
            if ctx.admit(pseudonym, is_china_data(ctx.export.region, residence)):
                admitted.add(candidate_id)
    return admitted


def _write_table(
    groups: Table,
    summaries: Table,
    audit: dict[str, Any],
    table: bias.ImpactTable,
    summary: bias.AuditSummary,
) -> None:
    """One impact table: a row per category, and its summary row."""
    common = {
        **audit,
        "outcome": table.outcome,
        "dimension": table.dimension,
        "unknown": table.unknown,
        "median": table.median,
        "exclusion_base": table.exclusion_base,
        "exclusion_denominator": table.exclusion_denominator,
    }
    for row in table.groups:
        view = row.as_dict()
        groups.add(
            {
                **common,
                **{key: view[key] for key in view if key in GROUP_COLUMNS},
                "undefined": row.undefined,
            }
        )
    summaries.add(
        {
            **common,
            "individuals": summary.individuals,
            "total": table.total,
            "undefined": table.undefined,
            "categories": len(table.groups),
            "flagged": len(table.flagged),
            "exclude_small": summary.exclude_small,
            "four_fifths_threshold": float(bias.FOUR_FIFTHS),
            "excludable_share": float(bias.EXCLUDABLE_SHARE),
        }
    )
