"""The `audit_log` kind: the audit entries of the period, a contiguous piece of the hash chain,
with the entries the recipient may not see redacted to their hashes."""

from __future__ import annotations

from typing import Any

from appliance.exports.bundle import BundleWriter
from appliance.exports.context import ExportContext
from appliance.exports.rules import CHINA
from appliance.store.db import Row
from appliance.store.exports import ExportRepository

PSEUDONYM_PREFIX = "cand-"  # what CandidateRepository.create gives every candidate

AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "details_json",
    "prev_hash",
    "hash",
    "redacted",
)


def write_audit_log(ctx: ExportContext, bundle: BundleWriter) -> None:
    """The audit entries of the period: a contiguous piece of the hash chain, pseudonymous.

    Entries about candidates outside the region (or China-region candidates the recipient
    may not receive) keep only seq, prev_hash and hash: the chain still verifies, their
    content is not in the bundle. Entries about no candidate are exported whole.
    """
    export, repo = ctx.export, ctx.repo
    table = bundle.table("audit_log", AUDIT_COLUMNS, formats=("jsonl", "csv"))
    span = repo.audit_range(export.period_start, export.period_end)
    if span is None:
        bundle.notes["audit_chain"] = None
        return
    first, last = span
    anchor: str | None = None
    head: str | None = None
    redacted = 0
    for batch in repo.audit_batches(first, last, ctx.batch_size):
        places = _candidate_places(repo, batch)
        for row in batch:
            anchor = row["prev_hash"] if anchor is None else anchor
            head = row["hash"]
            if _visible(ctx, row, places):
                table.add(_entry(row))
            else:
                redacted += 1
                table.add(_redacted_entry(row))
        ctx.progress((batch[-1]["seq"] - first + 1) / (last - first + 1), "audit_log")
    bundle.notes["audit_chain"] = {
        "first_seq": first,
        "last_seq": last,
        "anchor_prev_hash": anchor,
        "head_hash": head,
        "entries": table.rows,
        "redacted": redacted,
        "hash": "sha256(json.dumps([prev_hash, at, actor, action, subject, details_json], "
        "sort_keys=True, separators=(',', ':'), ensure_ascii=False))",
    }


def _candidate_places(repo: ExportRepository, batch: list[Row]) -> dict[str, tuple[str, set[str]]]:
    """Where the candidates the batch's entries are about live and interviewed."""
    pseudonyms = sorted(
        {r["subject"] for r in batch if (r["subject"] or "").startswith(PSEUDONYM_PREFIX)}
    )
    return repo.candidate_regions(pseudonyms) if pseudonyms else {}


def _visible(ctx: ExportContext, row: Row, places: dict[str, tuple[str, set[str]]]) -> bool:
    """Whether an entry goes into the bundle whole: not about a candidate it must not show."""
    subject = row["subject"] or ""
    if not subject.startswith(PSEUDONYM_PREFIX):
        return True
    residence, regions = places.get(subject, (None, set()))
    return ctx.export.region in regions and ctx.admit(
        subject, CHINA in regions or residence == CHINA
    )


def _entry(row: Row) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "at": row["at"],
        "actor": row["actor"],
        "action": row["action"],
        "subject": row["subject"],
        "details_json": row["details"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
        "redacted": False,
    }


def _redacted_entry(row: Row) -> dict[str, Any]:
    # Only what the chain needs to verify: the entry's content stays out of the bundle.
    return {
        **dict.fromkeys(AUDIT_COLUMNS),
        "seq": row["seq"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
        "redacted": True,
    }
