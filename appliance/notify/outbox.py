"""The durable outbox: messages are rows in the encrypted store, sent by the worker's chore.

The guarantee, exactly: a message is handed to the SMTP relay or SMS gateway **at most once**.

* Every attempt is logged before anything leaves the box (`claimed`), and again immediately
  before the hand-over (`handing_over`: for e-mail after RCPT TO, just before DATA). Both log
  writes are committed transactions.
* A sender that dies before `handing_over` is committed never gave the relay a complete
  message: the attempt is retried (with back-off) once the dead sender is noticed.
* A sender that dies after `handing_over` but before `sent` is committed leaves the message
  *in doubt* (the relay may have it). It is never resent automatically: it goes to the
  dead-letter view as `in_doubt`, and a person decides. Before every send the log is checked
  for an unresolved hand-over of the same Message-ID, so no code path resends by accident.
  A person's resend reuses the same Message-ID, so mail clients that drop repeats show one.
* SMS: with `sms_gateway_idempotent` (the gateway drops repeats of an Idempotency-Key), an
  in-doubt SMS is retried with the same key instead.
* In-app notifications are written in the same transaction that marks them sent: exactly once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import psutil

from appliance.media.spool import Spool
from appliance.notify.errors import (
    InDoubtError,
    PermanentSendError,
    SendError,
)
from appliance.notify.sms import send_sms
from appliance.notify.smtp import compose, send_email
from appliance.platform.clock import from_stamp, now_stamp, to_stamp, utcnow
from appliance.platform.config import ApplianceConfig, SchedulingConfig
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.notify import OutboxMessage

logger = logging.getLogger(__name__)

BATCH = 50  # messages sent per chore run, so analyses are not held up for long


@dataclass
class DeliveryReport:
    """What one run of the sender did (counts only: no personal data)."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    recovered: int = 0
    expired: int = 0
    details: list[str] = field(default_factory=list)


def claimant_id() -> str:
    """This process, as a claimant: host, pid and the pid's start time (pids are reused)."""
    me = psutil.Process()
    return f"{socket.gethostname()}:{os.getpid()}:{me.create_time():.3f}"


def _claimant_gone(claimant: str) -> bool:
    """Whether a claimant on this host is certainly dead (other hosts: unknown, False)."""
    try:
        host, pid_text, started_text = claimant.rsplit(":", 2)
        pid, started = int(pid_text), float(started_text)
    except ValueError:
        return True
    if host != socket.gethostname():
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        return abs(process.create_time() - started) >= 0.01
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return True


def new_message_id(settings: SchedulingConfig) -> str:
    """A fresh RFC 5322 Message-ID in the sender's domain."""
    domain = settings.smtp_sender.rpartition("@")[2] or "appliance.local"
    return f"<{secrets.token_hex(16)}@{domain}>"


def enqueue(
    store: Store,
    settings: SchedulingConfig,
    *,
    message_key: str,
    channel: str,
    purpose: str,
    candidate_id: int,
    interview_id: int | None,
    user_id: int | None,
    payload: dict[str, Any],
    not_before: str | None = None,
) -> int | None:
    """Add a message (inside the caller's transaction); None if its key was already queued."""
    return store.outbox.enqueue(
        message_key=message_key,
        message_id=new_message_id(settings),
        channel=channel,
        purpose=purpose,
        candidate_id=candidate_id,
        interview_id=interview_id,
        user_id=user_id,
        payload=payload,
        max_attempts=settings.outbox_max_attempts,
        not_before=not_before or now_stamp(),
    )


def backoff(settings: SchedulingConfig, attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones (doubling, capped)."""
    return float(
        min(
            settings.outbox_backoff_base_s * 2 ** max(attempts - 1, 0),
            settings.outbox_backoff_max_s,
        )
    )


def recover_stuck(store: Store, settings: SchedulingConfig) -> int:
    """Messages left 'sending' by a dead sender: retried, or dead-lettered if in doubt."""
    recovered = 0
    stale_before = utcnow() - timedelta(seconds=settings.outbox_stale_after_s)
    for outbox_id, claimant, claimed_at in store.outbox.stuck():
        if claimant == claimant_id():
            continue
        if not (_claimant_gone(claimant) or from_stamp(claimed_at) < stale_before):
            continue
        with store.transaction():
            message = store.outbox.get(outbox_id)
            if message.state != "sending" or message.claimed_by != claimant:
                continue
            phase = store.outbox.attempts(outbox_id)[-1].phase
            if phase == "claimed":
                store.outbox.set_phase(
                    outbox_id,
                    message.attempts,
                    "failed",
                    "the sender stopped before handing the message over",
                )
                # Nothing reached the relay and the relay did not fail: due again at once.
                _after_failure(
                    store, settings, message, "sender stopped", in_doubt=False, at_once=True
                )
            else:
                _after_failure(
                    store, settings, message, "sender stopped while handing over", in_doubt=True
                )
            recovered += 1
    return recovered


def _after_failure(
    store: Store,
    settings: SchedulingConfig,
    message: OutboxMessage,
    error: str,
    *,
    in_doubt: bool,
    permanent: bool = False,
    at_once: bool = False,
) -> str:
    """Retry later, or dead-letter; returns the new state (inside a transaction)."""
    if in_doubt and not (message.channel == "sms" and settings.sms_gateway_idempotent):
        store.outbox.mark_dead(message.id, "in_doubt", error)
        return "dead"
    if in_doubt:
        # The gateway drops a repeated Idempotency-Key: the hand-over is resolved by retrying.
        store.outbox.set_phase(message.id, message.attempts, "failed", error)
    if permanent:
        store.outbox.mark_dead(message.id, "rejected", error)
        return "dead"
    if message.attempts >= message.max_attempts:
        store.outbox.mark_dead(message.id, "attempts_exhausted", error)
        return "dead"
    delay = 0.0 if at_once else backoff(settings, message.attempts)
    when = to_stamp(utcnow() + timedelta(seconds=delay))
    store.outbox.retry_later(message.id, when, error)
    return "pending"


def _expired(message: OutboxMessage) -> bool:
    expires = message.payload.get("expires_at")
    return isinstance(expires, str) and from_stamp(expires) <= utcnow()


def deliver_one(store: Store, settings: SchedulingConfig, outbox_id: int) -> str:
    """Try to send one due message; its state afterwards ('skipped' if another took it)."""
    me = claimant_id()
    with store.transaction():
        attempt = store.outbox.claim(outbox_id, me)
        if attempt is None:
            return "skipped"
        message = store.outbox.get(outbox_id)
        if store.outbox.handed_over(message.message_id) and not (
            message.channel == "sms" and settings.sms_gateway_idempotent
        ):
            # The send log says an earlier attempt may have delivered it: never again by itself.
            store.outbox.set_phase(outbox_id, attempt, "failed", "earlier hand-over unresolved")
            store.outbox.mark_dead(outbox_id, "in_doubt")
            return "dead"
        if message.payload.get("erased"):
            store.outbox.set_phase(outbox_id, attempt, "failed", "candidate erased")
            store.outbox.mark_dead(outbox_id, "erased")
            return "dead"
        if _expired(message):
            store.outbox.set_phase(outbox_id, attempt, "failed", "expired")
            store.outbox.mark_dead(outbox_id, "expired")
            return "expired"
        if message.channel == "inapp":
            # Written with the 'sent' mark in one transaction: exactly once.
            assert message.user_id is not None
            store.inapp.add(
                message.user_id,
                message.id,
                message.candidate_id,
                message.message_key,
                message.payload,
            )
            store.outbox.set_phase(outbox_id, attempt, "accepted")
            store.outbox.mark_sent(outbox_id)
            return "sent"

    def handover() -> None:
        with store.transaction():
            store.outbox.set_phase(outbox_id, attempt, "handing_over")

    try:
        _send(settings, message, handover)
    except SendError as exc:
        in_doubt = isinstance(exc, InDoubtError)
        with store.transaction():
            if not in_doubt:
                store.outbox.set_phase(outbox_id, attempt, "failed", str(exc))
            state = _after_failure(
                store,
                settings,
                message,
                str(exc),
                in_doubt=in_doubt,
                permanent=isinstance(exc, PermanentSendError),
            )
        logger.warning("message %s: %s (%s)", outbox_id, type(exc).__name__, state)
        return state
    with store.transaction():
        store.outbox.set_phase(outbox_id, attempt, "accepted")
        store.outbox.mark_sent(outbox_id)
    return "sent"


def _composed(settings: SchedulingConfig, message: OutboxMessage, to: str) -> EmailMessage:
    """The MIME message, or PermanentSendError: a message that cannot be composed now never
    can, so it is dead-lettered with the reason instead of failing at every restart."""
    payload = message.payload
    try:
        return compose(
            settings,
            message_id=message.message_id,
            to=to,
            to_name=str(payload.get("to_name") or ""),
            subject=str(payload["subject"]),
            text=str(payload["text"]),
            ics=payload.get("ics"),
            method=payload.get("method"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        # The reason names the fault (e.g. a line break in a header), never the text itself.
        raise PermanentSendError(
            f"the message cannot be composed ({type(exc).__name__}: {exc})"[:300]
        ) from exc


def _send(settings: SchedulingConfig, message: OutboxMessage, handover: Any) -> None:
    payload = message.payload
    if message.channel == "email":
        to = str(payload.get("to") or "")
        if not to:
            raise PermanentSendError("the recipient has no e-mail address")
        mail = _composed(settings, message, to)
        send_email(settings, mail, recipient=to, before_handover=handover)
    elif message.channel == "sms":
        send_sms(
            settings,
            message_id=message.message_id,
            to=str(payload.get("to") or ""),
            text=str(payload["text"]),
            before_handover=handover,
        )
    else:
        raise PermanentSendError(f"unknown channel {message.channel!r}")


def deliver_due(store: Store, settings: SchedulingConfig, *, limit: int = BATCH) -> DeliveryReport:
    """Recover stuck messages, then send what is due (oldest first)."""
    report = DeliveryReport(recovered=recover_stuck(store, settings))
    for outbox_id in store.outbox.due_ids(now_stamp(), limit):
        state = deliver_one(store, settings, outbox_id)
        if state == "sent":
            report.sent += 1
        elif state == "pending":
            report.retried += 1
        elif state == "dead":
            report.dead += 1
        elif state == "expired":
            report.expired += 1
    return report


def outbox_chore(store: Store, config: ApplianceConfig, spool: Spool) -> object:
    """The worker's periodic chore: send due messages."""
    report = deliver_due(store, config.scheduling)
    if report.sent or report.dead or report.retried or report.recovered:
        logger.info(
            "outbox: %d sent, %d to retry, %d dead, %d recovered",
            report.sent,
            report.retried,
            report.dead,
            report.recovered,
        )
    return report


def requeue_dead(store: Store, principal: Principal, outbox_id: int) -> OutboxMessage:
    """A person sends a dead-lettered message again (same Message-ID); audited."""
    visibility = require(principal, Action.MANAGE_OUTBOX)
    visible = {m.id for m in store.outbox.visible(visibility, states=("dead",))}
    if outbox_id not in visible:
        raise NotFoundError(f"no dead message {outbox_id}")
    message = store.outbox.get(outbox_id)
    candidate = store.candidates.get(message.candidate_id)
    with store.audited(
        principal.actor,
        "outbox.requeued",
        subject=candidate.pseudonym,
        message=outbox_id,
        reason=message.dead_reason,
    ):
        store.outbox.release(outbox_id, extra_attempts=message.max_attempts)
    return store.outbox.get(outbox_id)
