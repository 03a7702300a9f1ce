"""Consents, waivers and refusals, each stored with the exact text the candidate saw.

Kinds: `ai_evaluation` (IL-1: after a notice explaining how the AI works, before the
interview), `visual_cues`, `biometric` (CN-1: a consent of its own, distinct from the
general notice), `facial_recognition_waiver` (MD-1: the applicant's name as signed, the
interview date, whether they read it; signed before the interview) and
`refuse_automated_decision` (CN-2). HR records what a candidate gave (on paper, by mail);
the candidate room records it directly (no principal). Withdrawal is a time stamp: the record
itself never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.compliance.common import (
    ComplianceError,
    parse_day,
    parse_moment,
    regions_for_interview,
    stamp_of,
)
from appliance.compliance.notices import notice_text
from appliance.platform.clock import from_stamp, now_stamp, utcnow
from appliance.platform.errors import NotFoundError
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.compliance import Consent, Notice, NoticeDelivery, compliance_of
from appliance.store.hiring import Interview

AI_EVALUATION = "ai_evaluation"
VISUAL_CUES = "visual_cues"
BIOMETRIC = "biometric"
FACIAL_RECOGNITION_WAIVER = "facial_recognition_waiver"
REFUSE_AUTOMATED_DECISION = "refuse_automated_decision"
KINDS = (
    AI_EVALUATION,
    VISUAL_CUES,
    BIOMETRIC,
    FACIAL_RECOGNITION_WAIVER,
    REFUSE_AUTOMATED_DECISION,
)
# Kinds given on the strength of a notice: the notice version shown must be named.
NEEDS_NOTICE = (AI_EVALUATION,)
MAX_TEXT_CHARS = 50_000
CLOCK_SKEW_S = 300.0


class ConsentError(ComplianceError):
    """A consent record is incomplete or not possible."""


@dataclass(frozen=True)
class ConsentState:
    """An interview's consents, notice deliveries and start, as the policy reads them."""

    interview_id: int
    started_at: str | None
    records: tuple[Consent, ...]
    deliveries: tuple[NoticeDelivery, ...]

    def active(self, kind: str) -> list[Consent]:
        """Records of `kind` that were not withdrawn."""
        return [c for c in self.records if c.kind == kind and c.active]

    def has(self, kind: str) -> bool:
        """Whether an active record of `kind` exists."""
        return bool(self.active(kind))

    def before_start(self, consent: Consent) -> bool:
        """Whether a record was given before the interview started (or it has not started)."""
        return self.started_at is None or from_stamp(consent.given_at) < from_stamp(self.started_at)

    def given_before_start(self, kind: str, *, with_notice: bool = False) -> bool:
        """An active record of `kind` given before the start (after a notice, if asked)."""
        return any(
            self.before_start(c) and (not with_notice or c.notice_version_id is not None)
            for c in self.active(kind)
        )

    def waiver_valid(self) -> bool:
        """MD-1: an active, complete facial-recognition waiver signed before the start."""
        return any(
            self.before_start(c)
            and bool((c.signed_name or "").strip())
            and c.interview_date is not None
            and c.read_confirmed is not None
            for c in self.active(FACIAL_RECOGNITION_WAIVER)
        )

    def notice_given(self) -> bool:
        """A notice was sent, or an active consent names the notice version shown."""
        return bool(self.deliveries) or any(
            c.active and c.notice_version_id is not None for c in self.records
        )

    def first_notice_sent_at(self) -> str | None:
        """When the first notice was sent for this interview (NY-1)."""
        return min((d.sent_at for d in self.deliveries), default=None)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view (for the report and the pages): no names, no texts."""
        return {
            "interview": self.interview_id,
            "started_at": self.started_at,
            "notice_sent_at": self.first_notice_sent_at(),
            "records": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "notice_version": c.notice_version_id,
                    "given_at": c.given_at,
                    "before_interview": self.before_start(c),
                    "withdrawn_at": c.withdrawn_at,
                    "channel": c.channel,
                }
                for c in self.records
            ],
        }


def interview_started_at(store: Store, interview_id: int) -> str | None:
    """The earliest of the interview's scheduled time, first upload and first recording."""
    moments = []
    for text in compliance_of(store).interview_times.start_times(interview_id):
        try:
            moments.append(parse_moment(text))
        except ComplianceError:
            continue  # an unreadable schedule says nothing about the start
    return stamp_of(min(moments)) if moments else None


def consent_state(store: Store, interview_id: int) -> ConsentState:
    """Everything the policy needs to know about an interview's consents and notices."""
    repo = compliance_of(store)
    return ConsentState(
        interview_id,
        interview_started_at(store, interview_id),
        tuple(repo.consents.for_interview(interview_id)),
        tuple(repo.deliveries.for_interview(interview_id)),
    )


def _interview(store: Store, principal: Principal | None, interview_id: int) -> Interview:
    if principal is None:
        return store.interviews.get(interview_id)
    return store.interviews.get_visible(interview_id, require(principal, Action.RECORD_CONSENT))


def _given_at(principal: Principal | None, given_at: str | datetime | None) -> str:
    if given_at is None:
        return now_stamp()
    if principal is None:
        raise ConsentError(said("a consent given in the room is stamped with the current time"))
    moment = parse_moment(given_at)
    if (moment - utcnow()).total_seconds() > CLOCK_SKEW_S:
        raise ConsentError(said("a consent cannot be given in the future"))
    return stamp_of(moment)


def _checked_text(text_shown: str) -> str:
    """The exact text shown, refused when empty or too long."""
    text = text_shown or ""
    if not text.strip():
        raise ConsentError(said("the exact text shown to the candidate is required"))
    if len(text) > MAX_TEXT_CHARS:
        raise ConsentError(
            said("the text shown is longer than %(limit)s characters", limit=MAX_TEXT_CHARS)
        )
    return text


def _checked_language(language: str) -> str:
    """The language code the text was shown in, refused when missing or implausibly long."""
    code = (language or "").strip()
    if not code or len(code) > 16:
        raise ConsentError(said("the language the text was shown in is required"))
    return code


def _check_notice(
    store: Store, interview: Interview, kind: str, text: str, notice: Notice | None
) -> None:
    """The notice a consent names is published and for the interview's regions; AI evaluation
    needs one, and a biometric consent has a text of its own (CN-1)."""
    if notice is not None:
        if not notice.published:
            raise ConsentError(said("a consent can only refer to a published notice"))
        if notice.region not in (*regions_for_interview(store, interview.id), "default"):
            raise ConsentError(
                said(
                    "a notice for %(region)s does not apply to this interview",
                    region=notice.region,
                )
            )
    if kind in NEEDS_NOTICE and notice is None:
        raise ConsentError(
            said(
                "a consent to AI evaluation follows a notice that explains how the AI works:"
                " name the notice version shown"
            )
        )
    if kind == BIOMETRIC and notice is not None and text.strip() == notice_text(notice).strip():
        raise ConsentError(
            said(
                "a biometric consent is separate from the general notice: its own text is required"
            )
        )


def _waiver_date(
    signed_name: str | None, interview_date: str | None, read_confirmed: bool | None
) -> str:
    """MD-1: a waiver is complete (signed name, interview date, read or not); returns the date."""
    if not (signed_name or "").strip():
        raise ConsentError(said("the waiver needs the applicant's name as signed"))
    if not interview_date:
        raise ConsentError(said("the waiver needs the date of the interview"))
    if read_confirmed is None:
        raise ConsentError(said("the waiver states whether the applicant read it"))
    return parse_day(interview_date).isoformat()


def record_consent(
    store: Store,
    principal: Principal | None,
    *,
    interview_id: int,
    kind: str,
    text_shown: str,
    language: str,
    notice_id: int | None = None,
    given_at: str | datetime | None = None,
    signed_name: str | None = None,
    interview_date: str | None = None,
    read_confirmed: bool | None = None,
) -> Consent:
    """Record a consent, waiver or refusal with the exact text shown.

    `principal` is the HR person recording what the candidate gave (with `given_at` as on the
    signed form); None is the candidate in the room (given now).
    """
    if kind not in KINDS:
        raise ConsentError(
            said(
                "unknown consent kind %(kind)s (known: %(known)s)",
                kind=repr(kind),
                known=", ".join(KINDS),
            )
        )
    interview = _interview(store, principal, interview_id)
    text = _checked_text(text_shown)
    code = _checked_language(language)
    repo = compliance_of(store)
    notice = repo.notices.get(notice_id) if notice_id is not None else None
    _check_notice(store, interview, kind, text, notice)
    waiver = kind == FACIAL_RECOGNITION_WAIVER
    waiver_date = _waiver_date(signed_name, interview_date, read_confirmed) if waiver else None
    given = _given_at(principal, given_at)
    candidate = store.candidates.get(interview.candidate_id)
    with store.transaction():
        consent = repo.consents.add(
            candidate_id=candidate.id,
            interview_id=interview.id,
            kind=kind,
            notice_version_id=notice.id if notice is not None else None,
            text_shown=text,
            language=code,
            given_at=given,
            recorded_by=principal.user_id if principal is not None else None,
            channel="hr" if principal is not None else "candidate",
            signed_name=(signed_name or "").strip() or None,
            interview_date=waiver_date,
            read_confirmed=read_confirmed if waiver else None,
        )
        _audit_recorded(
            store,
            principal,
            consent,
            pseudonym=candidate.pseudonym,
            interview=interview.id,
            kind=kind,
            given=given,
        )
    return consent


def _audit_recorded(
    store: Store,
    principal: Principal | None,
    consent: Consent,
    *,
    pseudonym: str,
    interview: int,
    kind: str,
    given: str,
) -> None:
    """Audit a recorded consent, noting whether it was given before the interview started."""
    started = interview_started_at(store, interview)
    store.audit.append(
        principal.actor if principal is not None else "candidate",
        "consent.recorded",
        subject=pseudonym,
        details={
            "consent": consent.id,
            "kind": kind,
            "interview": interview,
            "notice": consent.notice_version_id,
            "given_at": given,
            "before_interview": started is None or given < started,
        },
    )


def refuse_automated_decision(
    store: Store,
    principal: Principal | None,
    *,
    interview_id: int,
    text_shown: str,
    language: str,
) -> Consent:
    """CN-2: the candidate refuses a decision made solely by automated means."""
    return record_consent(
        store,
        principal,
        interview_id=interview_id,
        kind=REFUSE_AUTOMATED_DECISION,
        text_shown=text_shown,
        language=language,
    )


def withdraw_consent(
    store: Store, principal: Principal | None, *, interview_id: int, consent_id: int
) -> Consent:
    """Withdraw a consent (from now on; what was done before stays lawful)."""
    interview = _interview(store, principal, interview_id)
    repo = compliance_of(store).consents
    consent = repo.get(consent_id)
    if consent.interview_id != interview.id:
        raise NotFoundError(said("no consent %(id)s", id=consent_id))
    if not consent.active:
        raise ConsentError(said("the consent was already withdrawn"))
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(
        principal.actor if principal is not None else "candidate",
        "consent.withdrawn",
        subject=candidate.pseudonym,
        consent=consent.id,
        kind=consent.kind,
        interview=interview.id,
    ):
        withdrawn = repo.withdraw(consent.id)
    return withdrawn


def interview_consents(store: Store, principal: Principal, interview_id: int) -> ConsentState:
    """The consent state of an interview the person may record consents for."""
    interview = _interview(store, principal, interview_id)
    return consent_state(store, interview.id)
