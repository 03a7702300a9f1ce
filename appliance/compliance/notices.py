"""Notices shown to candidates before an interview: versioned per region and language.

A notice names the controller, the purposes, the retention period, the candidate's rights,
and that automated evaluation is used and how (GDPR Art. 13; EU-6). It cannot be published
with any of these empty. A published version never changes: editing it saves the next
version as a draft. Deliveries record when a notice was sent for an interview (NY-1).
"""

# The Chinese texts use Chinese punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from appliance.compliance.common import (
    ComplianceError,
    check_region,
    regions_for_interview,
    regions_in_scope,
    require_region,
    stamp_of,
)
from appliance.platform.clock import now_stamp
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.compliance import NOTICE_FIELDS, Notice, NoticeDelivery, compliance_of

# EU-6: what a notice must say before it can be published.
REQUIRED_FIELDS = ("controller", "purposes", "retention", "rights", "automated_evaluation")
FIELD_TITLES = {
    "title": "Title",
    "controller": "Who is responsible (controller)",
    "purposes": "Purposes of the processing",
    "retention": "How long the data are kept",
    "rights": "Your rights",
    "automated_evaluation": "Automated evaluation: that it is used and how it works",
    "body": "Further information",
}
MAX_FIELD_CHARS = 20_000
DELIVERY_CHANNELS = ("email", "letter", "portal", "in_person")

# Rounds that add processing to what HR's notice says: their paragraph is appended to the
# notice as the candidate reads it, in the notice's language, wherever the round applies
# (`rounds_for_interview`), so no notice can leave it out.
CODING_ROUND = "coding_round"
ROUND_NOTICES: dict[str, dict[str, tuple[str, str]]] = {
    CODING_ROUND: {
        "en": (
            "Coding round",
            "The code you write for this job's coding tasks is kept with your interview, and "
            "so is each version saved automatically while you write it. Your submitted code "
            "runs on this appliance in an isolated sandbox (no network, no access to any other "
            "data) against test cases, and is measured: tests passed, running time and memory "
            "beside a reference solution, how the running time grows with larger inputs, and "
            "lint findings for Python. A technical expert reads these results with your code "
            "and the versions before it; no decision is made from them automatically. They "
            "are erased with your other data.",
        ),
        "zh": (
            "编程测试",
            "您为本职位编程题编写的代码会与您的面试资料一同保存，编写过程中自动保存的各个版本"
            "也会保存。您提交的代码在本设备上的隔离沙箱中运行（无网络，无法访问任何其他数据），"
            "用测试用例检验并加以测量：通过的测试数、与参考解相比的运行时间和内存、运行时间随"
            "输入规模增长的情况，以及 Python 代码的静态检查结果。技术专家会结合您的代码及之前的"
            "版本阅读这些结果；不会据此自动作出任何决定。这些数据会与您的其他数据一同删除。",
        ),
    },
}


class NoticeError(ComplianceError):
    """A notice cannot be saved or published; `missing` names the empty required fields."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


def missing_fields(fields: dict[str, str]) -> tuple[str, ...]:
    """The required fields that are empty (EU-6)."""
    return tuple(name for name in REQUIRED_FIELDS if not (fields.get(name) or "").strip())


def _clean(fields: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(fields) - set(NOTICE_FIELDS))
    if unknown:
        raise NoticeError(said("unknown notice field(s): %(fields)s", fields=", ".join(unknown)))
    cleaned = {name: (fields.get(name) or "").strip() for name in NOTICE_FIELDS}
    too_long = [name for name, text in cleaned.items() if len(text) > MAX_FIELD_CHARS]
    if too_long:
        raise NoticeError(
            said(
                "longer than %(limit)s characters: %(fields)s",
                limit=MAX_FIELD_CHARS,
                fields=", ".join(too_long),
            )
        )
    return cleaned


def _language(language: str) -> str:
    cleaned = (language or "").strip()
    if not cleaned or len(cleaned) > 16 or not cleaned.replace("_", "").replace("-", "").isalnum():
        raise NoticeError(said("a notice needs a language code such as en or zh_CN"))
    return cleaned


def save_notice(
    store: Store,
    principal: Principal,
    *,
    region: str,
    language: str,
    fields: dict[str, str],
    notice_id: int | None = None,
) -> Notice:
    """Save a draft (a new version, or changes to a draft); a published one gets a new version."""
    require_region(principal, Action.MANAGE_NOTICES, check_region(region))
    code = _language(language)
    cleaned = _clean(fields)
    repo = compliance_of(store).notices
    with store.audited(principal.actor, "notice.saved") as entry:
        existing = repo.get(notice_id) if notice_id is not None else None
        if existing is not None:
            require_region(principal, Action.MANAGE_NOTICES, existing.region)
            if (existing.region, existing.language) != (region, code):
                raise NoticeError(
                    said("a new region or language is a new notice, not a new version")
                )
        if existing is not None and not existing.published:
            notice = repo.update_draft(existing.id, cleaned)
        else:
            notice = repo.create(region, code, cleaned, principal.user_id)
        entry.details.update(notice=notice.id, region=region, language=code, version=notice.version)
    return notice


def publish_notice(store: Store, principal: Principal, notice_id: int) -> Notice:
    """Publish a draft; refused with the list of empty required fields (EU-6)."""
    require(principal, Action.MANAGE_NOTICES)
    repo = compliance_of(store).notices
    notice = repo.get(notice_id)
    require_region(principal, Action.MANAGE_NOTICES, notice.region)
    if notice.published:
        raise NoticeError(said("version %(version)s is already published", version=notice.version))
    missing = missing_fields(notice.fields())
    if missing:
        titles = ", ".join(f"{name} ({FIELD_TITLES[name]})" for name in missing)
        raise NoticeError(
            said(
                "the notice cannot be published: required fields are empty: %(fields)s",
                fields=titles,
            ),
            missing,
        )
    with store.audited(
        principal.actor,
        "notice.published",
        notice=notice.id,
        region=notice.region,
        language=notice.language,
        version=notice.version,
    ):
        published = repo.publish(notice.id, principal.user_id)
    return published


def notice_text(notice: Notice, rounds: Sequence[str] = ()) -> str:
    """The notice as the candidate reads it: what a consent stores as the text shown; the
    paragraph of each round in `rounds` (`rounds_for_interview`) comes after HR's fields."""
    parts = [notice.title] if notice.title else []
    for name in ("controller", "purposes", "retention", "rights", "automated_evaluation", "body"):
        text = getattr(notice, name)
        if text:
            parts.append(f"{FIELD_TITLES[name]}:\n{text}")
    language = "zh" if notice.language.lower().startswith("zh") else "en"
    for name in rounds:
        heading, text = ROUND_NOTICES[name][language]
        parts.append(f"{heading}:\n{text}")
    return "\n\n".join(parts)


def rounds_for_interview(store: Store, interview_id: int) -> tuple[str, ...]:
    """The rounds whose paragraph the interview's notice must carry (its job's coding tasks)."""
    interview = store.interviews.get(interview_id)
    has_tasks = store.coding_tasks.with_tasks([interview.requisition_id])
    return (CODING_ROUND,) if has_tasks else ()


def rounds_for_region(store: Store, region: str) -> tuple[str, ...]:
    """The rounds some job of `region` runs: what its notice carries for those interviews."""
    return (CODING_ROUND,) if store.coding_tasks.in_region(region) else ()


def visible_notices(store: Store, principal: Principal) -> list[Notice]:
    """Every notice version in the regions the person manages notices for."""
    visibility = require(principal, Action.MANAGE_NOTICES)
    return compliance_of(store).notices.all(regions_in_scope(visibility))


def get_notice(store: Store, principal: Principal, notice_id: int) -> Notice:
    """One notice version the person may manage."""
    notice = compliance_of(store).notices.get(notice_id)
    require_region(principal, Action.MANAGE_NOTICES, notice.region)
    return notice


def current_notice(store: Store, region: str, language: str) -> Notice | None:
    """The newest published notice of a region in `language` (English as the fallback)."""
    repo = compliance_of(store).notices
    return repo.latest_published(region, language) or repo.latest_published(region, "en")


def record_delivery(
    store: Store,
    principal: Principal,
    *,
    interview_id: int,
    notice_id: int,
    sent_at: str | datetime | None = None,
    channel: str = "email",
) -> NoticeDelivery:
    """Record that a published notice was sent for an interview (NY-1 counts from then)."""
    visibility = require(principal, Action.RECORD_CONSENT)
    interview = store.interviews.get_visible(interview_id, visibility)
    repo = compliance_of(store)
    notice = repo.notices.get(notice_id)
    if not notice.published:
        raise NoticeError(said("only a published notice can be sent"))
    if notice.region not in (*regions_for_interview(store, interview.id), "default"):
        raise NoticeError(
            said("a notice for %(region)s does not apply to this interview", region=notice.region)
        )
    if channel not in DELIVERY_CHANNELS:
        raise NoticeError(
            said(
                "unknown channel %(channel)s (known: %(known)s)",
                channel=repr(channel),
                known=", ".join(DELIVERY_CHANNELS),
            )
        )
    sent = stamp_of(sent_at) if sent_at is not None else now_stamp()
    if sent > now_stamp(300):
        raise NoticeError(said("a notice cannot be recorded as sent in the future"))
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(
        principal.actor,
        "notice.delivered",
        subject=candidate.pseudonym,
        interview=interview.id,
        notice=notice.id,
        version=notice.version,
        sent_at=sent,
        channel=channel,
    ):
        delivery = repo.deliveries.add(interview.id, notice.id, sent, channel, principal.user_id)
    return delivery
