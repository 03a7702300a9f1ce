"""Recording an answer: pieces arrive while the candidate speaks, the worker assembles the take.

The browser names each take by a random key it keeps (with the pieces) in its own storage,
and numbers the pieces. A piece is appended, sealed on its own, to the take's pieces file in
the encrypted spool and acknowledged once that file is synced; the database only follows how
far the take has come, written in short batches that never wait for the write lock (the file
is the truth: a lagging row is caught up from it). A piece sent twice (a retry after a lost
answer) is acknowledged again and not stored twice; a gap is refused with the number expected.

Finishing a take is a quick acknowledgement: the count and size the browser announces are
checked against the file, the take is marked finished and a worker job checks every piece,
probes the recording and seals the file into a recording (streaming, bounded memory). The page
asks until the answer is safe; the candidate then keeps it or, with retakes left, records again.
A take is never assembled twice: the job, a retry after a crash and a page of the previous
version (which assembles in its request) all hold the file's lock and check the row first.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from appliance.media.disk import require_free_space
from appliance.media.pieces import NOTHING, PiecesFile, Progress
from appliance.media.spool import PiecesGoneError, Spool
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import (
    MediaRejectedError,
    NotFoundError,
    SpoolIntegrityError,
)
from appliance.platform.words import said
from appliance.room.plan import RoomSettings, settings_from
from appliance.room.service import (
    OpenedRoom,
    RoomError,
    answered_ids,
    finished_takes,
    interview_of_room_question,
)
from appliance.store import Store
from appliance.store.people import Candidate
from appliance.store.queue import Job
from appliance.store.room import RoomQuestion, Take
from inference.media import MediaError, probe, sniff_media_family

logger = logging.getLogger(__name__)

MAX_PIECE_BYTES = 4 << 20
CONTENT_TYPES = ("video/webm", "audio/webm", "video/mp4", "audio/mp4", "audio/ogg")
# Recording stops in the browser at the limit; a little slack covers the last piece's timing.
DURATION_SLACK_S = 5.0
# A take nobody continued for this long was abandoned (its browser and pieces are gone).
ABANDONED_AFTER_S = 2 * 24 * 3600.0
# A pieces file no take refers to is deleted after this long (younger: its take may be being
# created right now).
ORPHAN_AFTER_S = 3600.0
# How often a process writes the progress of its takes (the pieces files are the truth; the
# rows only spare a reloaded page from sending again what the appliance already holds).
PROGRESS_EVERY_S = 1.0
ASSEMBLE = "room_assemble"
# Ahead of analyses: a candidate is waiting to see that their answer is safe.
ASSEMBLY_PRIORITY = 10
READ_BLOCK = 1 << 20


class PieceOrderError(MediaRejectedError):
    """A piece arrived out of order; `expected` is the number the room waits for."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"the recording continues with piece {expected}")
        self.expected = expected


class _PendingProgress:
    """Pieces this process appended whose count the database does not show yet.

    Kept per database file (a process may serve several stores: tests) and written, at most
    every PROGRESS_EVERY_S, in one short transaction by whichever request then finds the
    write lock free: one commit a second for all the takes of a process, not one per piece.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, int], Progress] = {}
        self._written_at: dict[str, float] = {}

    @staticmethod
    def _db(store: Store) -> str:
        return str(store.database.path)

    def note(self, store: Store, take_id: int, progress: Progress) -> None:
        key = (self._db(store), take_id)
        with self._lock:
            known = self._items.get(key)
            if known is None or known.pieces < progress.pieces:
                self._items[key] = progress

    def get(self, store: Store, take_id: int) -> Progress | None:
        with self._lock:
            return self._items.get((self._db(store), take_id))

    def forget(self, store: Store, take_id: int) -> None:
        with self._lock:
            self._items.pop((self._db(store), take_id), None)

    def flush(self, store: Store, *, wait: bool) -> bool:
        db = self._db(store)
        with self._lock:
            if not wait and time.monotonic() - self._written_at.get(db, 0.0) < PROGRESS_EVERY_S:
                return False
            batch = {key[1]: found for key, found in self._items.items() if key[0] == db}
        if not batch:
            return True
        written = store.room.record_progress(
            {take_id: (p.pieces, p.size_bytes) for take_id, p in batch.items()}, wait=wait
        )
        if written:
            with self._lock:
                self._written_at[db] = time.monotonic()
                for take_id, found in batch.items():
                    if self._items.get((db, take_id)) == found:
                        del self._items[(db, take_id)]
        return written


_PENDING = _PendingProgress()


def flush_progress(store: Store) -> None:
    """Write the progress this process holds for the database (waits for the write lock)."""
    _PENDING.flush(store, wait=True)


def _require_questions(opened: OpenedRoom) -> None:
    if opened.room.stage != "questions":
        raise RoomError(said("the questions have not started yet"))


def take_of(store: Store, opened: OpenedRoom, client_key: str) -> Take:
    """A take of this room by its browser key (NotFoundError for any other)."""
    take = store.room.take_by_key(client_key)
    if take is None:
        raise NotFoundError("no such recording")
    interview_of_room_question(store, opened.room, take.room_question_id)
    return take


def _candidate_key(store: Store, opened: OpenedRoom) -> bytes:
    return store.vault.key_for(store.candidates.get(opened.interview.candidate_id).pseudonym)


def start_take(
    store: Store,
    opened: OpenedRoom,
    room_question_id: int,
    client_key: str,
    content_type: str,
    *,
    spool: Spool | None = None,
) -> Take:
    """Begin recording an answer (idempotent for the same key); with `spool`, its pieces file
    is made now rather than by the first piece."""
    _require_questions(opened)
    if not 16 <= len(client_key) <= 64 or not client_key.replace("-", "").isalnum():
        raise RoomError(said("a recording key is 16 to 64 letters, digits or dashes"))
    base_type = content_type.split(";", 1)[0].strip().lower()
    if base_type not in CONTENT_TYPES:
        raise MediaRejectedError(f"recordings of type {base_type or '?'} are not accepted")
    existing = store.room.take_by_key(client_key)
    if existing is not None:
        return take_of(store, opened, client_key)
    question = interview_of_room_question(store, opened.room, room_question_id)
    settings = settings_from(opened.room.settings)
    # The file is made before the transaction: no disk work while holding the write lock.
    made = spool.begin_pieces(_candidate_key(store, opened)) if spool is not None else None
    try:
        with store.transaction():
            if question.id in answered_ids(store, opened.room):
                raise RoomError(said("this question is already answered"))
            takes = store.room.takes(question.id)
            if any(t.state in ("recording", "complete") for t in takes):
                raise RoomError(said("finish or discard the recording in progress first"))
            if finished_takes(takes) >= 1 + settings.retakes:
                raise RoomError(said("no attempts are left for this question"))
            number = max((t.number for t in takes), default=0) + 1
            take = store.room.create_take(question.id, number, client_key, content_type[:100])
            if made is not None:
                store.room.attach_pieces_file(take.id, *made)
                take = store.room.take(take.id)
            return take
    except BaseException:
        if made is not None and spool is not None:
            spool.remove(made[0])
        raise


def _pieces_file_of(store: Store, spool: Spool, take: Take, key: bytes) -> tuple[str, bytes]:
    """The take's pieces file, made now if it has none (moving in the pieces a take begun
    before schema 17 kept in the database)."""
    if take.spool_name is not None and take.wrapped_data_key is not None:
        return take.spool_name, take.wrapped_data_key
    name, wrapped = spool.begin_pieces(key)
    try:
        # Only takes recording across the upgrade have such pieces (held in memory once).
        legacy = store.room.chunks(take.id, key)
        if legacy:
            with spool.pieces(name, wrapped, key, max_piece_bytes=MAX_PIECE_BYTES) as pieces:
                held = NOTHING
                for seq, data in enumerate(legacy):
                    held = pieces.append(held, seq, data)
        with store.transaction():
            attached = store.room.attach_pieces_file(take.id, name, wrapped)
            if attached and legacy:
                store.room.drop_chunks(take.id)
    except BaseException:
        spool.remove(name)
        raise
    if attached:
        return name, wrapped
    spool.remove(name)  # another request made one first: use that one
    fresh = store.room.take(take.id)
    assert fresh.spool_name is not None and fresh.wrapped_data_key is not None
    return fresh.spool_name, fresh.wrapped_data_key


def _known(store: Store, take: Take) -> Progress:
    """Pieces certainly in the take's file: what the row says, or more if this process knows."""
    pending = _PENDING.get(store, take.id)
    recorded = Progress(take.next_seq, take.received_bytes)
    return pending if pending is not None and pending.pieces > recorded.pieces else recorded


def _no_more_pieces(take: Take, seq: int) -> Take:
    if seq < take.next_seq:
        return take  # the answer to an earlier send was lost: acknowledge again
    raise RoomError(said("this recording is already complete"))


def add_piece(
    store: Store,
    spool: Spool,
    opened: OpenedRoom,
    client_key: str,
    seq: int,
    data: bytes,
    config: ApplianceConfig | None = None,
) -> Take:
    """Keep piece `seq` of a take; a repeat of an acknowledged piece changes nothing. With the
    configuration, the disk's free-space floor is kept (the room's smaller share of it)."""
    _require_questions(opened)
    if config is not None:
        require_free_space(config, len(data), room=True)
    take = take_of(store, opened, client_key)
    if take.state != "recording" or take.finished_at is not None:
        return _no_more_pieces(take, seq)
    if not data:
        raise MediaRejectedError("an empty piece")
    if len(data) > MAX_PIECE_BYTES:
        raise MediaRejectedError(f"a piece is at most {MAX_PIECE_BYTES} bytes")
    if seq == 0 and sniff_media_family(data[:4096]) is None:
        raise MediaRejectedError("the recording does not start like audio or video")
    key = _candidate_key(store, opened)
    name, wrapped = _pieces_file_of(store, spool, take, key)
    try:
        with spool.pieces(name, wrapped, key, max_piece_bytes=MAX_PIECE_BYTES) as pieces:
            # Re-read under the file's lock: a finish or a discard may have come first.
            fresh = store.room.take(take.id)
            if fresh.state != "recording" or fresh.finished_at is not None:
                return _no_more_pieces(fresh, seq)
            held = pieces.settle(_known(store, fresh))
            if seq > held.pieces:
                raise PieceOrderError(held.pieces)
            if seq == held.pieces:
                held = pieces.append(held, seq, data)
    except SpoolIntegrityError:
        fresh = store.room.take(take.id)
        if fresh.state != "recording":
            return _no_more_pieces(fresh, seq)
        logger.exception("the pieces file of room take %s cannot be used", take.id)
        raise RoomError(
            said(
                "the parts of this recording sent so far are lost: please record this answer again"
            )
        ) from None
    # Outside the file's lock: the row catches up now if the write lock is free, else later.
    _PENDING.note(store, take.id, held)
    _PENDING.flush(store, wait=False)
    return replace(fresh, next_seq=held.pieces, received_bytes=held.size_bytes)


def _enqueue_assembly(store: Store, config: ApplianceConfig, take_id: int) -> Job:
    return store.jobs.enqueue(
        ASSEMBLE,
        subject_type="room_take",
        subject_id=take_id,
        payload={"take": take_id},
        # A recorded answer is never turned away: a full queue of analyses does not stop it.
        max_open=sys.maxsize,
        max_attempts=config.worker.max_attempts,
        priority=ASSEMBLY_PRIORITY,
    )


def _job_open(store: Store, job_id: int | None) -> bool:
    if job_id is None:
        return False
    try:
        return store.jobs.get(job_id).state in ("queued", "running")
    except NotFoundError:
        return False


def _finished_again(
    store: Store,
    config: ApplianceConfig,
    take: Take,
    pieces: int,
    total_bytes: int,
    *,
    queue: bool,
) -> Take:
    """A finish repeated for a take already finished (a lost answer, a reload)."""
    if (pieces, total_bytes) != (take.expected_pieces, take.expected_bytes):
        raise PieceOrderError(take.next_seq)
    if queue and take.error is None and not _job_open(store, take.job_id):
        with store.transaction():
            job = _enqueue_assembly(store, config, take.id)
            take = store.room.update_take(take.id, job_id=job.id)
    return take


def submit_take(
    store: Store,
    spool: Spool,
    config: ApplianceConfig,
    opened: OpenedRoom,
    client_key: str,
    *,
    pieces: int,
    total_bytes: int,
    queue: bool = True,
) -> Take:
    """Every piece is in: mark the take finished and queue its assembly (a quick answer);
    `queue` false leaves the assembly to the caller."""
    _require_questions(opened)
    take = take_of(store, opened, client_key)
    if take.safe:
        return take  # a repeated finish
    if take.state != "recording":
        raise RoomError(said("this recording cannot be finished"))
    if take.finished_at is not None:
        return _finished_again(store, config, take, pieces, total_bytes, queue=queue)
    if pieces <= 0 or total_bytes <= 0:
        if take.next_seq == 0 and pieces == 0:
            raise MediaRejectedError("the recording is empty")
        raise PieceOrderError(take.next_seq)
    key = _candidate_key(store, opened)
    name, wrapped = _pieces_file_of(store, spool, take, key)
    try:
        with spool.pieces(name, wrapped, key, max_piece_bytes=MAX_PIECE_BYTES) as file:
            # Re-read under the file's lock: a piece, a finish or a discard may have come first.
            fresh = store.room.take(take.id)
            if fresh.state == "recording" and fresh.finished_at is None:
                held = file.settle(_known(store, fresh))
                if (held.pieces, held.size_bytes) != (pieces, total_bytes):
                    raise PieceOrderError(held.pieces)
                with store.transaction():
                    job = _enqueue_assembly(store, config, take.id) if queue else None
                    done = store.room.mark_finished(
                        take.id, held.pieces, held.size_bytes, None if job is None else job.id
                    )
                _PENDING.forget(store, take.id)
                logger.info("room take %s finished (%d pieces)", take.id, pieces)
                return done
    except PiecesGoneError:
        fresh = store.room.take(take.id)
        if fresh.state == "recording" and fresh.finished_at is None:
            raise RoomError(
                said(
                    "the parts of this recording sent so far are lost: "
                    "please record this answer again"
                )
            ) from None
    if fresh.safe:
        return fresh
    if fresh.state != "recording":
        raise RoomError(said("this recording cannot be finished"))
    return _finished_again(store, config, fresh, pieces, total_bytes, queue=queue)


@dataclass(frozen=True)
class Assembled:
    """A take stored as a recording."""

    take: Take
    duration_s: float


def finish_take(
    store: Store,
    spool: Spool,
    config: ApplianceConfig,
    opened: OpenedRoom,
    client_key: str,
    *,
    pieces: int,
    total_bytes: int,
) -> Assembled:
    """Finish a take and assemble it in this call: for pages of the previous version, which
    expect the stored answer in the reply (the queued job then finds nothing left to do)."""
    take = submit_take(
        store,
        spool,
        config,
        opened,
        client_key,
        pieces=pieces,
        total_bytes=total_bytes,
        queue=False,
    )
    if not take.safe:
        try:
            take = assemble_take(store, spool, config, take.id)
        except BaseException:
            # Interrupted (a full disk, say): the worker finishes it; the page may ask again.
            requeue_assemblies(store, config)
            raise
    if take.error is not None:
        raise MediaRejectedError(take.error)
    if not take.safe or take.duration_s is None:
        raise RoomError(said("this recording cannot be finished"))
    return Assembled(take, take.duration_s)


def _refuse(store: Store, take_id: int, reason: str) -> Take:
    """A finished take that cannot become a recording: the page offers to record again."""
    with store.transaction():
        take = store.room.take(take_id)
        if take.state == "recording" and take.error is None:
            take = store.room.update_take(take_id, error=reason[:500])
    logger.warning("room take %s refused: %s", take_id, reason)
    return take


def _digest(reader: Any) -> tuple[str, int]:
    """SHA-256 and size of a reader's plaintext (every piece is authenticated on the way)."""
    digest = hashlib.sha256()
    size = 0
    while block := reader.read(READ_BLOCK):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


class _Superseded(Exception):
    """The take changed (discarded, or stored by someone else) while it was being assembled."""


def assemble_take(store: Store, spool: Spool, config: ApplianceConfig, take_id: int) -> Take:
    """Check every piece of a finished take, probe it and seal it into a recording (once)."""
    take = store.room.take(take_id)
    if take.state != "recording" or take.error is not None:
        if take.safe and take.spool_name is not None:
            spool.publish_pieces(take.spool_name)  # a crash after the record committed
        return take
    if take.finished_at is None or take.spool_name is None or take.wrapped_data_key is None:
        raise RoomError(said("this recording is not finished"))
    question = store.room.question(take.room_question_id)
    room = store.room.session(question.session_id)
    interview = store.interviews.get(room.interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    key = store.vault.key_for(candidate.pseudonym)
    try:
        with spool.pieces(
            take.spool_name, take.wrapped_data_key, key, max_piece_bytes=MAX_PIECE_BYTES
        ) as file:
            # Re-read under the file's lock: someone else may have stored or discarded it.
            fresh = store.room.take(take_id)
            if fresh.state != "recording" or fresh.error is not None:
                return fresh
            done = _seal_into_recording(
                store, config, fresh, file, settings_from(room.settings), question, candidate
            )
            if done.safe:
                spool.publish_pieces(take.spool_name)  # still under the lock
    except PiecesGoneError:
        fresh = store.room.take(take_id)
        if fresh.state != "recording" or fresh.error is not None:
            return assemble_take(store, spool, config, take_id)  # stored meanwhile
        return _refuse(store, take_id, "the stored parts of the recording are missing")
    return done


def _seal_into_recording(
    store: Store,
    config: ApplianceConfig,
    take: Take,
    file: PiecesFile,
    settings: RoomSettings,
    question: RoomQuestion,
    candidate: Candidate,
) -> Take:
    """Verify, probe and seal a locked pieces file, then record it (one transaction)."""
    expected = Progress(take.expected_pieces or 0, take.expected_bytes or 0)
    if expected.size_bytes > config.media.max_upload_bytes:
        return _refuse(
            store,
            take.id,
            f"the recording is larger than the configured limit of "
            f"{config.media.max_upload_bytes} bytes (media.max_upload_bytes)",
        )
    try:
        # Cuts off an end record left by an interrupted try; fails if pieces went missing.
        file.settle(expected)
        with file.reader(expected) as reader:
            sha256, size = _digest(reader)  # every piece is authenticated on the way
            reader.seek(0)
            # Decoded from the spool in memory: no plaintext copy ever reaches the disk.
            info = probe(reader, max_duration_s=settings.max_answer_s + DURATION_SLACK_S)
    except MediaError as exc:
        return _refuse(store, take.id, f"the recording could not be read: {exc}")
    except SpoolIntegrityError as exc:
        return _refuse(store, take.id, f"the stored parts of the recording are damaged: {exc}")
    file.seal(expected)
    with file.sealed_reader() as sealed:  # read back as every later reader will
        if sealed.size != size:
            raise SpoolIntegrityError(f"spool file {file.name} changed while it was sealed")
    assert take.spool_name is not None and take.wrapped_data_key is not None
    room = store.room.session(question.session_id)
    try:
        with store.audited(
            "candidate",
            "room.take_recorded",
            subject=candidate.pseudonym,
            interview=room.interview_id,
            question=question.id,
            take=take.number,
        ) as entry:
            current = store.room.take(take.id)
            if current.state != "recording" or current.error is not None:
                raise _Superseded()
            recording = store.recordings.create(
                room.interview_id,
                candidate.id,
                take.spool_name,
                f"answer-{question.position + 1}-take-{take.number}.webm",
                take.content_type,
                size,
                sha256,
                take.wrapped_data_key,
            )
            store.recordings.set_media_info(recording.id, info.to_dict())
            done = store.room.update_take(
                take.id, state="complete", recording_id=recording.id, duration_s=info.duration_s
            )
            entry.details.update(recording=recording.id, bytes=size)
    except _Superseded:
        return store.room.take(take.id)
    logger.info("room take %s stored as recording %s", take.id, recording.id)
    return done


def assemble_task(
    store: Store,
    config: ApplianceConfig,
    payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """Worker task: store a finished take as a recording (nothing to do when already done)."""
    take_id = int(payload["take"])
    spool = Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)
    report_progress(0.1, "assemble")
    try:
        done = assemble_take(store, spool, config, take_id)
    except NotFoundError:
        # The take or its candidate was erased meanwhile: nothing of them may be written.
        return {"take": take_id, "stored": False, "reason": "gone"}
    return {
        "take": take_id,
        "stored": done.safe,
        "recording": done.recording_id,
        "reason": done.error or (None if done.safe else done.state),
    }


def keep_take(store: Store, opened: OpenedRoom, client_key: str) -> Take:
    """The candidate keeps a finished take as their answer."""
    _require_questions(opened)
    take = take_of(store, opened, client_key)
    if take.state == "used":
        return take
    if take.state == "recording" and take.finished_at is not None and take.error is None:
        raise RoomError(said("the answer is still being saved: keep it in a moment"))
    if take.state != "complete" or take.recording_id is None:
        raise RoomError(said("only a finished recording can be kept"))
    question = store.room.question(take.room_question_id)
    with store.transaction():
        store.interview_answers.create(
            opened.interview.id, question.id, take.recording_id, take.id, question.position
        )
        return store.room.update_take(take.id, state="used")


def discard_take(store: Store, spool: Spool, opened: OpenedRoom, client_key: str) -> Take:
    """Throw a take away (a retake, or a recording whose pieces were lost with the browser)."""
    _require_questions(opened)
    take = take_of(store, opened, client_key)
    if take.state == "used":
        raise RoomError(said("a kept answer cannot be discarded"))
    if take.state == "discarded":
        return take
    spool_name = None
    with store.transaction():
        # Re-read inside the write lock: the worker may have stored the take a moment ago.
        fresh = store.room.take(take.id)
        if fresh.state == "used":
            raise RoomError(said("a kept answer cannot be discarded"))
        store.room.drop_chunks(take.id)
        discarded = store.room.update_take(take.id, state="discarded", recording_id=None)
        if fresh.recording_id is not None:
            spool_name = store.recordings.get(fresh.recording_id).spool_name
            store.room.delete_unanalysed_recording(fresh.recording_id)
    if spool_name is not None:
        spool.remove(spool_name)
    if fresh.spool_name is not None:
        spool.remove(fresh.spool_name)
    _PENDING.forget(store, take.id)
    return discarded


def requeue_assemblies(store: Store, config: ApplianceConfig) -> int:
    """Queue the assembly again of finished takes whose job gave up (a full disk, say)."""
    count = 0
    for take in store.room.awaiting_assembly():
        if _job_open(store, take.job_id):
            continue
        with store.transaction():
            job = _enqueue_assembly(store, config, take.id)
            store.room.update_take(take.id, job_id=job.id)
        count += 1
    if count:
        logger.warning("queued the assembly of %d finished room takes again", count)
    return count


def sweep_pieces_files(store: Store, spool: Spool, *, min_age_s: float = ORPHAN_AFTER_S) -> int:
    """Tidy the pieces folder: finish moving stored takes, delete old files of no take."""
    in_use = store.room.pieces_files_in_use()
    recorded = store.recordings.spool_names()
    cutoff = time.time() - min_age_s
    removed = 0
    for name, mtime in spool.pieces_names().items():
        if name in in_use:
            continue
        if name in recorded:
            spool.publish_pieces(name)  # its record committed, the move did not happen
        elif mtime <= cutoff:
            spool.remove(name)
            removed += 1
    return removed


def sweep_abandoned_takes(store: Store, config: ApplianceConfig, spool: Spool) -> int:
    """Worker chore: forget takes abandoned mid-recording, restart stalled assemblies and tidy
    the pieces folder; returns how many takes were forgotten."""
    stale = store.room.stale_takes(now_stamp(-ABANDONED_AFTER_S))
    for take in stale:
        with store.transaction():
            store.room.drop_chunks(take.id)
            store.room.update_take(take.id, state="discarded")
        if take.spool_name is not None:
            spool.remove(take.spool_name)
    if stale:
        logger.info("discarded %d abandoned room takes", len(stale))
    requeue_assemblies(store, config)
    sweep_pieces_files(store, spool)
    return len(stale)
