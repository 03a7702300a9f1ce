"""Hiring analytics as JSON: the same figures as the page, numbers rounded to 4 places."""

from __future__ import annotations

from typing import Any

from appliance.analytics.hiring import Analytics, BandRow, FunnelRow
from appliance.analytics.questions import as_json
from appliance.platform.stats import Estimate


def _estimate(estimate: Estimate | None) -> dict[str, float] | None:
    if estimate is None:
        return None
    return {
        "value": round(estimate.value, 4),
        "low": round(estimate.low, 4),
        "high": round(estimate.high, 4),
    }


def _bands(rows: list[BandRow]) -> list[dict[str, Any]]:
    return [{"band": r.band, "n": r.n, "estimate": _estimate(r.estimate)} for r in rows]


def _funnel(rows: list[FunnelRow]) -> list[dict[str, Any]]:
    return [
        {
            "label": r.label,
            "department": r.department,
            "applied": r.applied,
            "interviewed": r.interviewed,
            "advanced": r.advanced,
            "hired": r.hired,
            "median_days_to_hire": None if r.days_to_hire is None else round(r.days_to_hire, 2),
        }
        for r in rows
    ]


def analytics_json(found: Analytics) -> dict[str, Any]:
    """The analytics of a reach, JSON-ready."""
    return {
        "generated_at": found.generated_at,
        "period": {"start": found.period[0], "end": found.period[1]},
        "people": found.people,
        "min_n": found.min_n,
        "funnel": {"jobs": _funnel(found.by_job), "departments": _funnel(found.by_department)},
        "score_histogram": [{"band": r.band, "n": r.n} for r in found.score_histogram],
        "hire_rate": _bands(found.hire_rate),
        "retention": {str(months): _bands(rows) for months, rows in found.retention.items()},
        "probation_passed": _bands(found.probation),
        "performance": _bands(found.performance),
        "validity": [
            {
                "competency": row.key,
                "names": row.names,
                "outcome": row.outcome,
                "n": row.correlation.n if row.correlation else None,
                "rho": round(row.correlation.rho, 4) if row.correlation else None,
                "p_value": round(row.correlation.p_value, 4) if row.correlation else None,
                "p_holm": None if row.p_adjusted is None else round(row.p_adjusted, 4),
                "predicts": row.predicts,
            }
            for row in found.validity
        ],
        "questions": [as_json(row) for row in found.questions],
    }
