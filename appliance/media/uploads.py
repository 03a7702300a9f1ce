"""Resumable uploads of large recordings: pieces land encrypted in the spool as they arrive.

A client starts an upload (size, name, type), sends pieces at the offset the appliance last
acknowledged, and may resume after a dropped connection or a restart by asking for that
offset. The first piece must look like audio or video; the last one completes the upload:
the recording is recorded and its analysis queued in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from appliance.media.disk import require_free_space
from appliance.media.recordings import (
    Ingested,
    check_queue_room,
    record_and_queue,
    require_recording_head,
    safe_display_name,
)
from appliance.media.spool import Spool
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import MediaRejectedError
from appliance.store import Store
from appliance.store.uploads import UploadSession

logger = logging.getLogger(__name__)

STALE_AFTER_S = 24 * 3600.0


class UploadOffsetError(MediaRejectedError):
    """A piece arrived for another offset than the one the appliance expects."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"the upload continues at byte {expected}")
        self.expected = expected


@dataclass(frozen=True)
class UploadProgress:
    """Where an upload stands after a piece."""

    session: UploadSession
    ingested: Ingested | None


def start_upload(
    store: Store,
    spool: Spool,
    config: ApplianceConfig,
    *,
    interview_id: int,
    filename: str,
    content_type: str,
    total_bytes: int,
    user_id: int | None,
) -> UploadSession:
    """Open an upload for an interview's recording."""
    if total_bytes <= 0:
        raise MediaRejectedError("the recording is empty (0 bytes)")
    if total_bytes > config.media.max_upload_bytes:
        raise MediaRejectedError(
            f"the recording is larger than the configured limit of "
            f"{config.media.max_upload_bytes} bytes (media.max_upload_bytes)"
        )
    check_queue_room(store, config)
    require_free_space(config, total_bytes)  # the whole recording must fit above the floor
    interview = store.interviews.get(interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    name, wrapped = spool.begin(store.vault.key_for(candidate.pseudonym))
    try:
        with store.transaction():
            session = store.uploads.create(
                secrets.token_urlsafe(18),
                interview.id,
                user_id,
                safe_display_name(filename),
                content_type[:100] or "application/octet-stream",
                total_bytes,
                name,
                wrapped,
            )
    except BaseException:
        spool.discard(name)
        raise
    return session


def append_piece(
    store: Store,
    spool: Spool,
    config: ApplianceConfig,
    *,
    upload_id: str,
    offset: int,
    data: bytes,
    actor: str,
) -> UploadProgress:
    """Add one piece; the last piece completes the upload and queues its analysis."""
    session = store.uploads.get(upload_id)
    with spool.locked(session.spool_name):
        # Re-read under the lock: two requests for one offset are served one after the other,
        # and the second one sees the offset has moved on.
        return _append_locked(
            store, spool, config, store.uploads.get(upload_id), offset, data, actor
        )


def _append_locked(
    store: Store,
    spool: Spool,
    config: ApplianceConfig,
    session: UploadSession,
    offset: int,
    data: bytes,
    actor: str,
) -> UploadProgress:
    if session.completed_at is not None:
        raise MediaRejectedError("this upload is already complete")
    if offset != session.received_bytes:
        raise UploadOffsetError(session.received_bytes)
    end = offset + len(data)
    if end > session.total_bytes:
        raise MediaRejectedError("the piece goes past the announced size of the recording")
    if offset == 0:
        require_recording_head(data)
    require_free_space(config, len(data))  # the disk may have filled since the start
    interview = store.interviews.get(session.interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    key = store.vault.key_for(candidate.pseudonym)
    final = end == session.total_bytes
    spool.append(
        session.spool_name, session.wrapped_data_key, key, offset=offset, data=data, final=final
    )
    if not final:
        with store.transaction():
            store.uploads.advance(session.id, end)
        return UploadProgress(store.uploads.get(session.id), None)
    digest = hashlib.sha256()
    with spool.open_partial(session.spool_name, session.wrapped_data_key, key) as reader:
        while block := reader.read(1 << 20):
            digest.update(block)
    spool.commit(session.spool_name)
    try:
        # The last offset, the recording, its job and the audit entry commit together: if any
        # fails, the upload still waits for its last piece and can be completed by a retry.
        with store.transaction():
            ingested = record_and_queue(
                store,
                config,
                interview_id=interview.id,
                candidate=candidate,
                spool_name=session.spool_name,
                display_name=session.display_name,
                content_type=session.content_type,
                size_bytes=session.total_bytes,
                sha256=digest.hexdigest(),
                wrapped_data_key=session.wrapped_data_key,
                actor=actor,
            )
            store.uploads.advance(session.id, end)
            store.uploads.complete(session.id, ingested.recording.id)
    except BaseException:
        spool.uncommit(session.spool_name)
        raise
    logger.info("upload completed as recording %s", ingested.recording.id)
    return UploadProgress(store.uploads.get(session.id), ingested)


def expire_stale_uploads(store: Store, spool: Spool, *, older_than_s: float = STALE_AFTER_S) -> int:
    """Forget uploads nobody continued for a day, and their partial files."""
    stale = store.uploads.stale(now_stamp(-older_than_s))
    for session in stale:
        spool.discard(session.spool_name)
        with store.transaction():
            store.uploads.delete(session.id)
    return len(stale)
