"""The analysis worker: claims jobs from the encrypted queue and runs them, one at a time."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import secrets
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

from appliance.analysis.affect_scoring import persist_affect
from appliance.analysis.pipeline import StepContext, StepFailure, run_pipeline
from appliance.analysis.steps import build_pipeline
from appliance.audit.chain import maybe_checkpoint
from appliance.backup.schedule import CHORE_INTERVAL_S, backup_chore, backup_task
from appliance.backup.schedule import JOB_KIND as BACKUP_KIND
from appliance.coding_round.judging import judge_submission
from appliance.coding_round.trials import TRIAL_KIND as CODING_TRIAL_KIND
from appliance.coding_round.trials import run_visible_tests
from appliance.coding_round.work import JOB_KIND as CODING_JUDGE_KIND
from appliance.exports.build import build_export, fail_export
from appliance.exports.bundle_files import sweep_partial_bundles
from appliance.exports.requesting import JOB_KIND as EXPORT_KIND
from appliance.exports.rules import ExportError
from appliance.live.assist import LIVE_KIND, live_assist_task
from appliance.media.disk import stale_upload_age_s
from appliance.media.spool import Spool
from appliance.media.uploads import expire_stale_uploads
from appliance.notify.outbox import outbox_chore
from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError, SpoolIntegrityError
from appliance.platform.scratch import make_scratch, scratch_root, sweep_orphans, wipe
from appliance.privacy.retention import RETENTION_INTERVAL_S
from appliance.privacy.retention_job import retention_chore
from appliance.room.followups import FOLLOWUP as FOLLOWUP_KIND
from appliance.room.followups import followup_task
from appliance.room.takes import ASSEMBLE as ROOM_ASSEMBLE_KIND
from appliance.room.takes import assemble_task, sweep_abandoned_takes
from appliance.scheduling.next_round import JOB_KIND as NEXT_ROUND_KIND
from appliance.scheduling.next_round import open_next_round
from appliance.scheduling.service import caldav_chore
from appliance.store import Store
from appliance.store.maintenance import tidy
from appliance.store.queue import Claim, LostClaimError

logger = logging.getLogger(__name__)

ANALYSE = "analyse"

# Other job kinds: (store, config, payload, report_progress) -> JSON result. Raise StepFailure
# for a readable permanent failure; anything else is retried with backoff.
JobTask = Callable[
    [Store, ApplianceConfig, dict[str, Any], Callable[[float, str], None]], dict[str, Any]
]
TASKS: dict[str, JobTask] = {}
# Housekeeping run while idle: name -> (interval in seconds, chore(store, config, spool)).
PERIODIC: dict[str, tuple[float, Callable[[Store, ApplianceConfig, Spool], object]]] = {}


class WorkerStopping(BaseException):
    """Raised inside a running job when the worker was asked to stop."""


@dataclass(frozen=True)
class Outcome:
    """How one job ended."""

    job_id: int
    state: str
    error_code: str | None = None


def process_alive(pid: int, started_at: float) -> bool:
    """Whether `pid` still runs the process that registered (not a reused pid, not a zombie)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(process.create_time() - started_at) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def recover_abandoned(
    store: Store, *, hostname: str, stale_after_s: float, own_id: str | None = None
) -> list[int]:
    """Requeue running jobs whose worker died; return their ids."""
    stale_before = to_stamp(utcnow() - timedelta(seconds=stale_after_s))
    recovered = []
    for job, token in store.jobs.running():
        if job.claimed_by == own_id:
            continue
        worker = store.workers.get(job.claimed_by) if job.claimed_by else None
        if worker is not None and worker.hostname == hostname and worker.stopped_at is None:
            dead = not process_alive(worker.pid, worker.pid_started_at)
        else:
            dead = (worker is not None and worker.stopped_at is not None) or (
                (job.heartbeat_at or "") < stale_before
            )
        if (
            dead
            and store.jobs.requeue_abandoned(
                job.id, token, "the worker running it stopped unexpectedly"
            )
            != "gone"
        ):
            recovered.append(job.id)
            logger.warning("requeued job %s abandoned by worker %s", job.id, job.claimed_by)
    return recovered


class _Heartbeat(threading.Thread):
    """Refreshes the job's heartbeat from its own connection while a step works."""

    def __init__(self, store: Store, claim: Claim, interval_s: float) -> None:
        super().__init__(name=f"heartbeat-{claim.job.id}", daemon=True)
        self._store, self._claim, self._interval = store, claim, interval_s
        self._done = threading.Event()
        self.lost = threading.Event()
        self.progress: tuple[float, str] | None = None

    def run(self) -> None:
        try:
            while not self._done.wait(self._interval):
                progress, step = self.progress or (None, None)
                if not self._store.jobs.heartbeat(self._claim, progress=progress, step=step):
                    self.lost.set()
                    return
        finally:
            self._store.close()

    def report_progress(self, fraction: float, step: str) -> None:
        """Record how far the job is (sent with the next beat); LostClaimError once the job
        was taken back from this worker, so the task stops instead of finishing twice."""
        self.progress = (fraction, step)
        if self.lost.is_set():
            raise LostClaimError(f"job {self._claim.job.id} was taken back from this worker")

    def stop(self) -> None:
        self._done.set()
        self.join()


class Worker:
    """One worker process's loop."""

    def __init__(
        self,
        config: ApplianceConfig,
        store: Store,
        *,
        worker_id: str | None = None,
        kinds: Collection[str] | None = None,
        exclude_kinds: Collection[str] = (),
        chores: bool = True,
    ) -> None:
        self.config = config
        # A lane: which job kinds this process takes, and whether it runs the idle chores.
        self.kinds = None if kinds is None else tuple(kinds)
        self.exclude_kinds = tuple(exclude_kinds)
        self.chores = chores
        self.store = store
        self.spool = Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)
        self.hostname = socket.gethostname()
        self.id = worker_id or f"{self.hostname}:{os.getpid()}:{secrets.token_hex(3)}"
        self.pipeline_names = list(config.worker.pipeline)
        build_pipeline(self.pipeline_names)  # fail at start on a bad pipeline, not per job
        self._stop = threading.Event()
        self._in_job = False
        self._handlers: dict[str, Callable[[Claim], Outcome]] = {
            ANALYSE: self._analyse,
            EXPORT_KIND: self._export,
        }
        for kind, task in TASKS.items():
            self._handlers[kind] = self._task_handler(task)
        self._last_periodic: dict[str, datetime] = {}

    def register(self) -> None:
        """Record this worker and requeue what dead workers left behind."""
        self.store.workers.register(
            self.id, self.hostname, os.getpid(), psutil.Process().create_time()
        )
        recover_abandoned(
            self.store,
            hostname=self.hostname,
            stale_after_s=self.config.worker.stale_after_s,
            own_id=self.id,
        )
        expire_stale_uploads(self.store, self.spool, older_than_s=stale_upload_age_s(self.config))
        sweep_partial_bundles(self.config)
        self.spool.sweep(
            self.store.recordings.spool_names() | self.store.uploads.open_spool_names()
        )
        for root in scratch_dirs(self.config):
            for name in sweep_orphans(root):
                logger.warning("wiped scratch folder %s left by a dead worker", name)

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop after (or, from a signal, during) the current job."""
        self._stop.set()
        if signum is not None and self._in_job:
            raise WorkerStopping()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the worker; a running job goes back to the queue."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def run_forever(self, *, exit_when_idle: bool = False) -> int:
        """Work until stopped (or, with `exit_when_idle`, until idle); return how many jobs ran."""
        ran = 0
        last_recovery = utcnow()
        try:
            while not self._stop.is_set():
                if self.run_once() is not None:
                    ran += 1
                    continue
                if exit_when_idle:
                    break
                self.store.workers.heartbeat(self.id)
                if self.chores:
                    self._run_periodic()
                if (
                    utcnow() - last_recovery
                ).total_seconds() > self.config.worker.stale_after_s / 2:
                    recover_abandoned(
                        self.store,
                        hostname=self.hostname,
                        stale_after_s=self.config.worker.stale_after_s,
                        own_id=self.id,
                    )
                    last_recovery = utcnow()
                self._stop.wait(self.config.worker.poll_interval_s)
        finally:
            self.store.workers.stop(self.id)
        return ran

    def run_once(self) -> Outcome | None:
        """Claim and run one ready job; None when nothing is ready."""
        claim = self.store.jobs.claim(self.id, kinds=self.kinds, exclude_kinds=self.exclude_kinds)
        if claim is None:
            return None
        handler = self._handlers.get(claim.job.kind)
        if handler is None:
            with self.store.transaction():
                self.store.jobs.fail(
                    claim, "unknown_kind", f"no handler for job kind {claim.job.kind!r}"
                )
            return Outcome(claim.job.id, "failed", "unknown_kind")
        self._in_job = True
        try:
            return handler(claim)
        except WorkerStopping:
            self._release(claim)
            raise
        finally:
            self._in_job = False

    def _run_periodic(self) -> None:
        """Housekeeping while idle (checkpoints, retention), each at its own interval."""
        now = utcnow()
        for name, (interval_s, chore) in PERIODIC.items():
            last = self._last_periodic.get(name)
            if last is not None and (now - last).total_seconds() < interval_s:
                continue
            self._last_periodic[name] = now
            try:
                chore(self.store, self.config, self.spool)
            except Exception:
                # A failing chore must not stop analyses; it is retried at its next interval.
                logger.exception("periodic task %s failed", name)

    def _task_handler(self, task: JobTask) -> Callable[[Claim], Outcome]:
        """Run a non-analysis job kind: heartbeat, progress, retries, completion like analyses."""

        def handle(claim: Claim) -> Outcome:
            heartbeat = _Heartbeat(self.store, claim, self.config.worker.heartbeat_interval_s)

            heartbeat.start()
            try:
                result = task(self.store, self.config, claim.job.payload, heartbeat.report_progress)
            except StepFailure as exc:
                return self._finish_failure(claim, exc.code, exc.message, exc.retryable, None, None)
            except LostClaimError:
                return Outcome(claim.job.id, "lost")
            except Exception as exc:
                return self._finish_failure(
                    claim, "internal", f"{type(exc).__name__}: {exc}"[:500], True, None, None
                )
            finally:
                heartbeat.stop()
            try:
                with self.store.audited(
                    f"worker:{self.id}", f"{claim.job.kind}.completed", job=claim.job.id
                ):
                    self.store.jobs.succeed(claim, result)
            except LostClaimError:
                return Outcome(claim.job.id, "lost")
            return Outcome(claim.job.id, "succeeded")

        return handle

    def _release(self, claim: Claim) -> None:
        try:
            self.store.jobs.release(claim, "the worker was stopped during the job")
        except Exception:
            logger.exception("could not return job %s to the queue", claim.job.id)

    def _retry_delay(self, attempts: int) -> float:
        base = self.config.worker.backoff_base_s * (2 ** max(0, attempts - 1))
        delay = min(self.config.worker.backoff_max_s, base)
        return float(delay * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not security

    def _finish_failure(
        self,
        claim: Claim,
        code: str,
        message: str,
        retryable: bool,
        subject: str | None,
        interview_id: int | None,
    ) -> Outcome:
        job = claim.job
        try:
            return self._record_failure(claim, code, message, retryable, subject, interview_id)
        except LostClaimError:
            logger.warning("job %s was requeued while failing; this attempt is dropped", job.id)
            return Outcome(job.id, "lost")

    def _record_failure(
        self,
        claim: Claim,
        code: str,
        message: str,
        retryable: bool,
        subject: str | None,
        interview_id: int | None,
    ) -> Outcome:
        job = claim.job
        with self.store.transaction():
            if retryable and job.attempts < job.max_attempts:
                self.store.jobs.retry(claim, code, message, self._retry_delay(job.attempts))
                state = "queued"
            else:
                if retryable:
                    message = f"gave up after {job.attempts} attempts: {message}"
                self.store.jobs.fail(claim, code, message)
                if interview_id is not None:
                    self.store.interviews.set_status(interview_id, "failed")
                state = "failed"
            self.store.audit.append(
                f"worker:{self.id}",
                f"job.{state}",
                subject=subject,
                details={"job": job.id, "code": code, "attempt": job.attempts},
            )
        logger.warning("job %s attempt %s: %s (%s)", job.id, job.attempts, state, code)
        return Outcome(job.id, state, code)

    def _analyse(self, claim: Claim) -> Outcome:
        job = claim.job
        try:
            recording = self.store.recordings.get(int(job.subject_id or 0))
            interview = self.store.interviews.get(recording.interview_id)
            requisition = self.store.requisitions.get(interview.requisition_id)
            candidate = self.store.candidates.get(recording.candidate_id)
            candidate_key = self.store.vault.key_for(candidate.pseudonym)
        except NotFoundError as exc:
            return self._finish_failure(claim, "missing_input", str(exc), False, None, None)
        subject = candidate.pseudonym

        def open_media() -> io.RawIOBase:
            return self.spool.open(recording.spool_name, recording.wrapped_data_key, candidate_key)

        heartbeat = _Heartbeat(self.store, claim, self.config.worker.heartbeat_interval_s)

        scratch = make_scratch(scratch_root(self.config.data_dir), f"job{job.id}")
        previous_tempdir = tempfile.tempdir
        tempfile.tempdir = str(scratch)  # libraries' temp files land in the wiped folder too
        ctx = StepContext(
            job.id,
            recording,
            requisition.region,
            interview.language,
            self.config,
            open_media,
            scratch,
            heartbeat.report_progress,
            store=self.store,
        )
        heartbeat.start()
        try:
            draft = run_pipeline(
                build_pipeline(self.pipeline_names), ctx, overlap=self.config.worker.overlap_steps
            )
        except StepFailure as exc:
            return self._finish_failure(
                claim, exc.code, exc.message, exc.retryable, subject, interview.id
            )
        except SpoolIntegrityError as exc:
            return self._finish_failure(
                claim, "spool_integrity", str(exc), False, subject, interview.id
            )
        except LostClaimError:
            logger.warning("job %s was requeued while running; dropping this attempt", job.id)
            return Outcome(job.id, "lost")
        except Exception as exc:
            # Unknown failures may be transient (disk full, a busy lock): retry with backoff.
            return self._finish_failure(
                claim, "internal", f"{type(exc).__name__}: {exc}"[:500], True, subject, interview.id
            )
        finally:
            heartbeat.stop()
            tempfile.tempdir = previous_tempdir
            wipe(scratch)
        try:
            return self._complete(
                claim,
                recording.id,
                interview.id,
                subject,
                draft.to_content(),
                draft.media_info,
                apart=draft.apart,
                step_seconds=draft.step_seconds,
            )
        except LostClaimError:
            logger.warning("job %s was requeued while running; result discarded", job.id)
            return Outcome(job.id, "lost")
        except NotFoundError:
            # The candidate was erased while the job ran: nothing of them may be written.
            return self._finish_failure(
                claim,
                "subject_erased",
                "the candidate's data was erased during the analysis",
                False,
                None,
                None,
            )

    def _export(self, claim: Claim) -> Outcome:
        """Build an auditor's export bundle (signed, encrypted to their age key)."""
        job = claim.job
        subject = f"export:{job.subject_id}"
        heartbeat = _Heartbeat(self.store, claim, self.config.worker.heartbeat_interval_s)

        heartbeat.start()
        try:
            result = build_export(self.store, self.config, job.payload, heartbeat.report_progress)
        except ExportError as exc:
            return self._finish_failure(
                claim, exc.rule or "export_refused", str(exc), False, subject, None
            )
        except LostClaimError:
            return Outcome(job.id, "lost")
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"[:500]
            outcome = self._finish_failure(claim, "internal", message, True, subject, None)
            if outcome.state == "failed":
                fail_export(self.store, job.payload, message)
            return outcome
        finally:
            heartbeat.stop()
        try:
            with self.store.transaction():
                self.store.jobs.succeed(claim, result)
        except LostClaimError:
            return Outcome(job.id, "lost")
        return Outcome(job.id, "succeeded")

    def _complete(
        self,
        claim: Claim,
        recording_id: int,
        interview_id: int,
        subject: str,
        content: dict[str, Any],
        media_info: dict[str, Any] | None,
        apart: dict[str, Any] | None = None,
        step_seconds: dict[str, float] | None = None,
    ) -> Outcome:
        # Results, job completion and the audit entry commit together or not at all.
        with self.store.audited(
            f"worker:{self.id}", "analysis.completed", subject=subject, job=claim.job.id
        ) as entry:
            if media_info is not None:
                self.store.recordings.set_media_info(recording_id, media_info)
            report = self.store.reports.create(
                interview_id,
                claim.job.id,
                content,
                recording_id=recording_id,
                model_version=scored_with(content),
            )
            if apart and apart.get("affect"):
                # Affect output is stored apart from the report, never in its content.
                persist_affect(self.store, claim.job.id, recording_id, report.id, apart["affect"])
            self.store.interviews.set_status(interview_id, "analysed")
            self.store.jobs.succeed(
                claim, {"report_id": report.id, "step_seconds": step_seconds or {}}
            )
            entry.details["report"] = report.id
        logger.info("job %s succeeded (report %s)", claim.job.id, report.id)
        return Outcome(claim.job.id, "succeeded")


def lower_priority(niceness: int) -> None:
    """Yield the CPU (and the disk) to the web processes: raise this process's niceness to
    `niceness` and put its I/O in the lowest best-effort class."""
    current = os.nice(0)
    if niceness > current:
        os.nice(niceness - current)
    with contextlib.suppress(AttributeError, OSError, psutil.Error):
        psutil.Process().ionice(psutil.IOPRIO_CLASS_BE, 7)


def scored_with(content: dict[str, Any]) -> str | None:
    """`name vN` of the competency model a report's answers were scored with; None when
    nothing was scored (the page then says why instead of naming a model)."""
    scoring = (content.get("sections") or {}).get("scoring") or {}
    model = scoring.get("model") or {}
    scored = any(d.get("score") is not None for d in scoring.get("dimensions") or [])
    if not scored or not model.get("name"):
        return None
    return f"{model['name']} v{model.get('version', 0)}"


def scratch_dirs(config: ApplianceConfig) -> list[Path]:
    """Where job scratch folders can appear (for audits of leftover plaintext)."""
    return [scratch_root(config.data_dir), config.paths.tmp]


def _audit_checkpoint(store: Store, config: ApplianceConfig, spool: Spool) -> object:
    # Signed checkpoints bound what an attacker with the DB key could rewrite unseen (ALL-3).
    return maybe_checkpoint(store, every_entries=500, every_seconds=900)


def _tidy_databases(store: Store, config: ApplianceConfig, spool: Spool) -> object:
    return {"main": tidy(store.conn), "vault": tidy(store.vault_conn)}


PERIODIC["audit_checkpoint"] = (60.0, _audit_checkpoint)
PERIODIC["store_tidy"] = (600.0, _tidy_databases)
PERIODIC["retention"] = (RETENTION_INTERVAL_S, retention_chore)
PERIODIC["notify_outbox"] = (10.0, outbox_chore)
PERIODIC["caldav_sync"] = (3600.0, caldav_chore)
TASKS[NEXT_ROUND_KIND] = open_next_round
TASKS[LIVE_KIND] = live_assist_task
TASKS[FOLLOWUP_KIND] = followup_task
TASKS[CODING_JUDGE_KIND] = judge_submission  # a coding submission, judged in the sandbox
TASKS[CODING_TRIAL_KIND] = run_visible_tests  # the candidate's "run the tests" (visible cases)
PERIODIC["room_abandoned_takes"] = (3600.0, sweep_abandoned_takes)


def _stale_uploads_chore(store: Store, config: ApplianceConfig, spool: Spool) -> None:
    """Delete unfinished uploads past their age (sooner while the disk is low)."""
    expire_stale_uploads(store, spool, older_than_s=stale_upload_age_s(config))


PERIODIC["stale_uploads"] = (600.0, _stale_uploads_chore)
TASKS[ROOM_ASSEMBLE_KIND] = assemble_task
# Scheduled backups (`backup.folder`): queued here, written by the batch lane.
PERIODIC["backup"] = (CHORE_INTERVAL_S, backup_chore)
TASKS[BACKUP_KIND] = backup_task
