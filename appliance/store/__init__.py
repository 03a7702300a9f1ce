"""Repository-style access to the encrypted store: every SQL statement of the core lives here."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from appliance.store.analytics import AnalyticsRepository
from appliance.store.audit import AuditRepository, NewEntry, PendingEntry
from appliance.store.coding import CodingTaskRepository, CodingWorkRepository
from appliance.store.competency import CompetencyRepository
from appliance.store.db import Connection, Database, transaction
from appliance.store.group_commit import GroupCommit
from appliance.store.hiring import InterviewRepository, RequisitionRepository
from appliance.store.links import LinkRepository
from appliance.store.live import LiveRepository
from appliance.store.metrics import MetricsRepository
from appliance.store.migrate import require_current
from appliance.store.notify import InAppRepository, OutboxRepository
from appliance.store.outcomes import OutcomeRepository
from appliance.store.people import CandidateRepository, UserRepository
from appliance.store.queue import JobRepository, WorkerRepository
from appliance.store.recordings import RecordingRepository
from appliance.store.reports import ReportRepository
from appliance.store.resumes import PersonalQuestionRepository, ResumeRepository
from appliance.store.review import (
    DecisionRepository,
    EvaluationRepository,
    InterviewOverrideRepository,
    ScoreOverrideRepository,
)
from appliance.store.room import (
    InterviewAnswerRepository,
    NotificationRepository,
    RoomRepository,
)
from appliance.store.scheduling import SchedulingRepository
from appliance.store.segments import InterviewPlanRepository, SegmentCorrectionRepository
from appliance.store.throttle import LoginThrottleRepository
from appliance.store.tokens import ApiTokenRepository
from appliance.store.uploads import UploadRepository
from appliance.store.vault import VaultRepository
from appliance.store.web_sessions import WebSessionRepository


class Store:
    """The store: one connection per thread and process, and a repository per aggregate."""

    def __init__(
        self,
        database: Database,
        vault: Database,
        *,
        check_schema: bool = True,
        device_key: bytes = b"",
    ) -> None:
        self.database = database
        self.vault_database = vault
        # The device's Ed25519 seed, for signing (audit checkpoints, exports); never stored here.
        self.device_key = device_key
        self._local = threading.local()
        self._grouped_audit: GroupCommit[list[NewEntry]] = GroupCommit(self._append_audit_groups)
        if check_schema:
            require_current(self.conn)
        self.users = UserRepository(self)
        self.candidates = CandidateRepository(self)
        self.requisitions = RequisitionRepository(self)
        self.competency = CompetencyRepository(self)
        self.interviews = InterviewRepository(self)
        self.recordings = RecordingRepository(self)
        self.jobs = JobRepository(self)
        self.workers = WorkerRepository(self)
        self.reports = ReportRepository(self)
        self.audit = AuditRepository(self)
        self.vault = VaultRepository(self)
        self.decisions = DecisionRepository(self)
        self.overrides = ScoreOverrideRepository(self)
        self.interview_overrides = InterviewOverrideRepository(self)
        self.web_sessions = WebSessionRepository(self)
        self.evaluations = EvaluationRepository(self)
        self.api_tokens = ApiTokenRepository(self)
        self.login_throttle = LoginThrottleRepository(self)
        self.uploads = UploadRepository(self)
        self.links = LinkRepository(self)
        self.scheduling = SchedulingRepository(self)
        self.outbox = OutboxRepository(self)
        self.inapp = InAppRepository(self)
        self.room = RoomRepository(self)
        self.interview_answers = InterviewAnswerRepository(self)
        self.hr_notifications = NotificationRepository(self)
        self.live = LiveRepository(self)
        self.resumes = ResumeRepository(self)
        self.personal_questions = PersonalQuestionRepository(self)
        self.interview_plan = InterviewPlanRepository(self)
        self.segment_corrections = SegmentCorrectionRepository(self)
        self.coding_tasks = CodingTaskRepository(self)
        self.coding_work = CodingWorkRepository(self)
        self.outcomes = OutcomeRepository(self)
        self.analytics = AnalyticsRepository(self)
        self.metrics = MetricsRepository(self)

    def _connection(self, name: str, database: Database) -> Connection:
        # A connection must not cross a fork (gunicorn) or a thread (sqlite rule).
        owner = (os.getpid(), threading.get_ident())
        cached = getattr(self._local, name, None)
        if cached is not None and cached[0] == owner:
            return cached[1]
        conn = database.connect()
        setattr(self._local, name, (owner, conn))
        return conn

    @property
    def conn(self) -> Connection:
        """This thread's connection to the main database."""
        return self._connection("main", self.database)

    @property
    def vault_conn(self) -> Connection:
        """This thread's connection to the key vault."""
        return self._connection("vault", self.vault_database)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction on the main database (BEGIN IMMEDIATE)."""
        with transaction(self.conn) as conn:
            yield conn

    @contextmanager
    def audited(
        self, actor: str, action: str, *, subject: str | None = None, **details: Any
    ) -> Iterator[PendingEntry]:
        """A transaction for one change and its audit entry: both commit, or neither does."""
        with self.transaction():
            entry = PendingEntry(subject, details)
            yield entry
            # Appended last, after the block: the entry records a change that has happened
            # (and ids known only then); an exception skips it and rolls everything back.
            self.audit.append(actor, action, subject=entry.subject, details=entry.details)

    def audit_grouped(self, entries: list[NewEntry]) -> None:
        """Append audit entries that record no change of data (reads), committed together with
        those of other threads waiting at the same time; returns once they are committed."""
        if not entries:
            return
        if self.conn.in_transaction:
            # Inside the caller's own write transaction the entries are part of it: a group's
            # writer would wait for the write lock this thread holds.
            self.audit.append_many(entries)
            return
        self._grouped_audit.submit(entries)

    def _append_audit_groups(self, groups: list[list[NewEntry]]) -> None:
        with self.transaction():
            self.audit.append_many([entry for group in groups for entry in group])

    def close(self) -> None:
        """Close this thread's connections."""
        for name in ("main", "vault"):
            cached = getattr(self._local, name, None)
            if cached is not None:
                cached[1].close()
                setattr(self._local, name, None)
