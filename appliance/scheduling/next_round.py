"""The next round: when a person records "advance", scheduling of the next round opens.

The decision's transaction also enqueues a worker job (so the two commit together); the job
creates the next interview round, opens its scheduling request, mails the candidate a
self-scheduling link and tells the requisition's business leads. It is idempotent: run twice,
it finds the round and the request already there and queues nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.notify.outbox import enqueue
from appliance.notify.templates import language_of, render
from appliance.platform.config import ApplianceConfig
from appliance.scheduling.links import Signers
from appliance.scheduling.messages import schedule_invite
from appliance.store import Store
from appliance.store.hiring import Interview, Requisition
from appliance.store.review import Decision

JOB_KIND = "scheduling.next_round"
# A person's decision is never refused because the queue is busy: the job is small.
_NO_QUEUE_LIMIT = 1_000_000_000


def enqueue_next_round(store: Store, decision: Decision) -> None:
    """Inside the decision's transaction: queue the opening of the next round."""
    store.jobs.enqueue(
        JOB_KIND,
        max_open=_NO_QUEUE_LIMIT,
        max_attempts=5,
        subject_type="decision",
        subject_id=decision.id,
        payload={
            "decision": decision.id,
            "candidate": decision.candidate_id,
            "requisition": decision.requisition_id,
            "by": decision.decided_by,
        },
        priority=50,
    )


def _leads(store: Store, requisition: Requisition) -> list[int]:
    """Active business leads whose departments and regions cover the requisition."""
    return [
        user.id
        for user in store.users.all()
        if user.role == "business_lead"
        and user.active
        and ("*" in user.departments or requisition.department in user.departments)
        and ("*" in user.regions or requisition.region in user.regions)
    ]


def open_next_round(
    store: Store,
    config: ApplianceConfig,
    payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """The worker task: open the next round after an "advance" (idempotent per decision)."""
    decision_id = int(payload["decision"])
    candidate_id, requisition_id = int(payload["candidate"]), int(payload["requisition"])
    decided_by = int(payload["by"])
    requisition = store.requisitions.get(requisition_id)
    signers = Signers(store)
    report_progress(0.2, "next round")
    with store.transaction():
        done = store.scheduling.next_round_of(decision_id)
        if done is not None:
            return {"opened": False, "reason": "already opened", "interview": done[0]}
        rounds = [
            i
            for i in store.interviews.for_candidate(candidate_id)
            if i.requisition_id == requisition_id
        ]
        if not rounds:
            return {"opened": False, "reason": "no interview"}
        base = max(rounds, key=lambda i: (i.round, i.id))
        interview = store.interviews.create(
            candidate_id,
            requisition_id,
            kind="live",
            round_no=base.round + 1,
            language=base.language,
        )
        kind_id = _type_for(store, config, base)
        candidate = store.candidates.get(candidate_id)
        if kind_id is None:
            # Nothing to offer slots from: the round exists, HR schedules it by hand.
            store.scheduling.record_next_round(decision_id, interview.id, None)
            store.audit.append(
                "system",
                "scheduling.next_round_opened",
                subject=candidate.pseudonym,
                details={"decision": decision_id, "interview": interview.id, "request": None},
            )
            return {"opened": True, "interview": interview.id, "request": None}
        base_request = store.scheduling.request_for_interview(base.id)
        request = store.scheduling.open_request(
            interview.id,
            kind_id,
            candidate_timezone=base_request.candidate_timezone if base_request else "UTC",
            preferred_windows=base_request.preferred_windows if base_request else [],
            opened_by=decided_by,
        )
        schedule_invite(store, config, signers, request, created_by=decided_by)
        _tell_leads(store, config, requisition, candidate_id, interview)
        store.scheduling.record_next_round(decision_id, interview.id, request.id)
        store.audit.append(
            "system",
            "scheduling.next_round_opened",
            subject=candidate.pseudonym,
            details={"decision": decision_id, "interview": interview.id, "request": request.id},
        )
    report_progress(1.0, "next round")
    return {"opened": True, "interview": interview.id, "request": request.id}


def _tell_leads(
    store: Store,
    config: ApplianceConfig,
    requisition: Requisition,
    candidate_id: int,
    interview: Interview,
) -> None:
    """In-app (and e-mail, where they have an address) to the requisition's business leads."""
    base_url = config.scheduling.public_base_url.rstrip("/")
    for lead_id in _leads(store, requisition):
        lead = store.users.get(lead_id)
        language = language_of(lead.language)
        subject, body = render(
            "next_round_lead",
            language,
            {
                "name": lead.display_name,
                "position": requisition.title,
                "round": interview.round,
                "link": f"{base_url}/candidates/{candidate_id}",
            },
        )
        key = f"next-round:{interview.id}:lead:{lead_id}"
        common: dict[str, Any] = {
            "candidate_id": candidate_id,
            "interview_id": interview.id,
            "user_id": lead_id,
            "purpose": "next_round_lead",
        }
        enqueue(
            store,
            config.scheduling,
            message_key=f"{key}:inapp",
            channel="inapp",
            **common,
            payload={"title": subject, "text": body, "link": f"/candidates/{candidate_id}"},
        )
        if lead.email:
            enqueue(
                store,
                config.scheduling,
                message_key=f"{key}:email",
                channel="email",
                **common,
                payload={
                    "to": lead.email,
                    "to_name": lead.display_name,
                    "subject": subject,
                    "text": body,
                },
            )


def _type_for(store: Store, config: ApplianceConfig, base: Interview) -> int | None:
    """The next round's interview type: the configured one, else the previous round's."""
    if config.scheduling.next_round_type:
        named = store.scheduling.type_named(config.scheduling.next_round_type)
        if named is not None:
            return named.id
    request = store.scheduling.request_for_interview(base.id)
    return request.type_id if request is not None else None
