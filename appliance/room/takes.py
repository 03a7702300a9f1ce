"""Recording an answer: pieces arrive while the candidate speaks, the server assembles the take.

The browser names each take by a random key it keeps (with the pieces) in its own storage,
and numbers the pieces. A piece is acknowledged only once it is sealed in the encrypted
database; a piece sent twice (a retry after a lost answer) is acknowledged again and not
stored twice; a gap is refused with the number expected. Finishing a take checks the count
and size the browser announces, decodes the whole recording, encrypts it into the spool and
records it; the candidate then keeps it as their answer or, with retakes left, records again.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

from appliance.media.spool import Spool
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import MediaRejectedError, NotFoundError
from appliance.room.plan import settings_from
from appliance.room.service import (
    OpenedRoom,
    RoomError,
    answered_ids,
    finished_takes,
    interview_of_room_question,
)
from appliance.store import Store
from appliance.store.room import Take
from inference.media import MediaError, probe, sniff_media_family

logger = logging.getLogger(__name__)

MAX_PIECE_BYTES = 4 << 20
CONTENT_TYPES = ("video/webm", "audio/webm", "video/mp4", "audio/mp4", "audio/ogg")
# Recording stops in the browser at the limit; a little slack covers the last piece's timing.
DURATION_SLACK_S = 5.0
# A take nobody continued for this long was abandoned (its browser and pieces are gone).
ABANDONED_AFTER_S = 2 * 24 * 3600.0


class PieceOrderError(MediaRejectedError):
    """A piece arrived out of order; `expected` is the number the room waits for."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"the recording continues with piece {expected}")
        self.expected = expected


def _require_questions(opened: OpenedRoom) -> None:
    if opened.room.stage != "questions":
        raise RoomError("the questions have not started yet")


def take_of(store: Store, opened: OpenedRoom, client_key: str) -> Take:
    """A take of this room by its browser key (NotFoundError for any other)."""
    take = store.room.take_by_key(client_key)
    if take is None:
        raise NotFoundError("no such recording")
    interview_of_room_question(store, opened.room, take.room_question_id)
    return take


def start_take(
    store: Store, opened: OpenedRoom, room_question_id: int, client_key: str, content_type: str
) -> Take:
    """Begin recording an answer (idempotent for the same key)."""
    _require_questions(opened)
    if not 16 <= len(client_key) <= 64 or not client_key.replace("-", "").isalnum():
        raise RoomError("a recording key is 16 to 64 letters, digits or dashes")
    base_type = content_type.split(";", 1)[0].strip().lower()
    if base_type not in CONTENT_TYPES:
        raise MediaRejectedError(f"recordings of type {base_type or '?'} are not accepted")
    existing = store.room.take_by_key(client_key)
    if existing is not None:
        return take_of(store, opened, client_key)
    question = interview_of_room_question(store, opened.room, room_question_id)
    settings = settings_from(opened.room.settings)
    with store.transaction():
        if question.id in answered_ids(store, opened.room):
            raise RoomError("this question is already answered")
        takes = store.room.takes(question.id)
        if any(t.state in ("recording", "complete") for t in takes):
            raise RoomError("finish or discard the recording in progress first")
        if finished_takes(takes) >= 1 + settings.retakes:
            raise RoomError("no attempts are left for this question")
        number = max((t.number for t in takes), default=0) + 1
        return store.room.create_take(question.id, number, client_key, content_type[:100])


def add_piece(store: Store, opened: OpenedRoom, client_key: str, seq: int, data: bytes) -> Take:
    """Keep piece `seq` of a take; a repeat of an acknowledged piece changes nothing."""
    _require_questions(opened)
    take = take_of(store, opened, client_key)
    if take.state != "recording":
        if seq < take.next_seq:
            return take  # the answer to an earlier send was lost: acknowledge again
        raise RoomError("this recording is already complete")
    if not data:
        raise MediaRejectedError("an empty piece")
    if len(data) > MAX_PIECE_BYTES:
        raise MediaRejectedError(f"a piece is at most {MAX_PIECE_BYTES} bytes")
    if seq == 0 and sniff_media_family(data[:4096]) is None:
        raise MediaRejectedError("the recording does not start like audio or video")
    interview = opened.interview
    key = store.vault.key_for(store.candidates.get(interview.candidate_id).pseudonym)
    with store.transaction():
        fresh = store.room.take(take.id)  # re-read inside the write lock: requests may race
        if seq < fresh.next_seq:
            return fresh
        if seq > fresh.next_seq:
            raise PieceOrderError(fresh.next_seq)
        store.room.add_chunk(take.id, seq, data, key)
        return store.room.update_take(
            take.id, next_seq=seq + 1, received_bytes=fresh.received_bytes + len(data)
        )


@dataclass(frozen=True)
class Assembled:
    """A take written to the spool."""

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
    """Assemble, verify and encrypt a take into the spool once every piece is in."""
    _require_questions(opened)
    take = take_of(store, opened, client_key)
    if take.state == "complete" and take.duration_s is not None:
        return Assembled(take, take.duration_s)  # a repeated finish
    if take.state != "recording":
        raise RoomError("this recording cannot be finished")
    count, size = store.room.chunk_stats(take.id)
    if (count, size) != (pieces, total_bytes) or take.next_seq != pieces:
        raise PieceOrderError(take.next_seq)
    interview = opened.interview
    candidate = store.candidates.get(interview.candidate_id)
    key = store.vault.key_for(candidate.pseudonym)
    data = b"".join(store.room.chunks(take.id, key))
    settings = settings_from(opened.room.settings)
    try:
        # Decoded from memory: no plaintext copy of the answer ever reaches the disk.
        info = probe(io.BytesIO(data), max_duration_s=settings.max_answer_s + DURATION_SLACK_S)
    except MediaError as exc:
        raise MediaRejectedError(f"the recording could not be read: {exc}") from None
    spooled = spool.write_stream(io.BytesIO(data), key, max_bytes=config.media.max_upload_bytes)
    if spooled.sha256 != hashlib.sha256(data).hexdigest():  # the spool read back what it got
        spool.remove(spooled.name)
        raise MediaRejectedError("the recording changed while it was stored")
    question = store.room.question(take.room_question_id)
    try:
        with store.audited(
            "candidate",
            "room.take_recorded",
            subject=candidate.pseudonym,
            interview=interview.id,
            question=question.id,
            take=take.number,
        ) as entry:
            recording = store.recordings.create(
                interview.id,
                candidate.id,
                spooled.name,
                f"answer-{question.position + 1}-take-{take.number}.webm",
                take.content_type,
                spooled.size_bytes,
                spooled.sha256,
                spooled.wrapped_data_key,
            )
            store.recordings.set_media_info(recording.id, info.to_dict())
            store.room.drop_chunks(take.id)
            done = store.room.update_take(
                take.id, state="complete", recording_id=recording.id, duration_s=info.duration_s
            )
            entry.details.update(recording=recording.id, bytes=spooled.size_bytes)
    except BaseException:
        spool.remove(spooled.name)
        raise
    logger.info("room take %s stored as recording %s", take.id, recording.id)
    return Assembled(done, info.duration_s)


def keep_take(store: Store, opened: OpenedRoom, client_key: str) -> Take:
    """The candidate keeps a finished take as their answer."""
    _require_questions(opened)
    take = take_of(store, opened, client_key)
    if take.state == "used":
        return take
    if take.state != "complete" or take.recording_id is None:
        raise RoomError("only a finished recording can be kept")
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
        raise RoomError("a kept answer cannot be discarded")
    if take.state == "discarded":
        return take
    spool_name = None
    with store.transaction():
        store.room.drop_chunks(take.id)
        discarded = store.room.update_take(take.id, state="discarded", recording_id=None)
        if take.recording_id is not None:
            spool_name = store.recordings.get(take.recording_id).spool_name
            store.room.delete_unanalysed_recording(take.recording_id)
    if spool_name is not None:
        spool.remove(spool_name)
    return discarded


def sweep_abandoned_takes(store: Store, config: ApplianceConfig, spool: Spool) -> int:
    """Worker chore: forget the pieces of takes abandoned mid-recording; returns how many."""
    stale = store.room.stale_takes(now_stamp(-ABANDONED_AFTER_S))
    for take in stale:
        with store.transaction():
            store.room.drop_chunks(take.id)
            store.room.update_take(take.id, state="discarded")
    if stale:
        logger.info("discarded %d abandoned room takes", len(stale))
    return len(stale)
