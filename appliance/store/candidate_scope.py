"""Scoping privacy records (requests, holds, tombstones) to the candidates a person may see."""

from __future__ import annotations

from typing import Any

from appliance.security.permissions import Visibility


def candidate_scope(visibility: Visibility, candidate_column: str) -> tuple[str, list[Any]]:
    """SQL: the visibility reaches one of the candidate's interviews."""
    clause, params = visibility.interview_clause("si", "sr")
    return (
        "EXISTS (SELECT 1 FROM interviews si JOIN requisitions sr ON sr.id = si.requisition_id"
        f" WHERE si.candidate_id = {candidate_column} AND {clause})"
    ), params
