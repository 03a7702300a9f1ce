"""Taking a recording in: stream it into the encrypted spool, record it, queue its analysis."""

from __future__ import annotations

import itertools
import logging
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from appliance.media.disk import require_free_space
from appliance.media.spool import Spool
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotARecordingError, QueueFullError
from appliance.store import Store
from appliance.store.people import Candidate
from appliance.store.queue import Job
from appliance.store.recordings import Recording
from inference.media import sniff_media_family

logger = logging.getLogger(__name__)

MAX_DISPLAY_NAME = 200


def safe_display_name(filename: str) -> str:
    """A file name fit to show: no folders, no control characters, bounded length.

    The name is only ever displayed; spool files get generated names, so `../` cannot reach
    the file system through it.
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    return name[:MAX_DISPLAY_NAME] or "recording"


@dataclass(frozen=True)
class Ingested:
    """A stored recording and the job that will analyse it."""

    recording: Recording
    job: Job


def check_queue_room(store: Store, config: ApplianceConfig) -> None:
    """Refuse early when the queue is full, before the cost of an encrypted copy."""
    counts = store.jobs.counts()
    if counts.get("queued", 0) + counts.get("running", 0) >= config.worker.max_queued_jobs:
        raise QueueFullError(
            f"the job queue is full ({config.worker.max_queued_jobs} jobs waiting or running); "
            "try again when the worker has caught up"
        )


def record_and_queue(
    store: Store,
    config: ApplianceConfig,
    *,
    interview_id: int,
    candidate: Candidate,
    spool_name: str,
    display_name: str,
    content_type: str,
    size_bytes: int,
    sha256: str,
    wrapped_data_key: bytes,
    actor: str,
) -> Ingested:
    """Inside the caller's transaction: the recording row, its `analyse` job, the audit entry."""
    recording = store.recordings.create(
        interview_id,
        candidate.id,
        spool_name,
        display_name,
        content_type[:100],
        size_bytes,
        sha256,
        wrapped_data_key,
    )
    job = store.jobs.enqueue(
        "analyse",
        subject_type="recording",
        subject_id=recording.id,
        max_open=config.worker.max_queued_jobs,
        max_attempts=config.worker.max_attempts,
    )
    store.interviews.set_status(interview_id, "recorded")
    store.audit.append(
        actor,
        "recording.ingested",
        subject=candidate.pseudonym,
        details={"recording": recording.id, "job": job.id, "bytes": size_bytes},
    )
    return Ingested(recording, job)


# How much of a file's start tells its container (magic numbers and the first box or element).
SNIFF_BYTES = 4096


def require_recording_head(head: bytes) -> None:
    """NotARecordingError unless `head` (a file's first bytes) starts an audio or video file."""
    if sniff_media_family(head[:SNIFF_BYTES]) is None:
        raise NotARecordingError()


def _checked_source(source: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """The source's chunks, after checking that its first bytes start a recording."""
    chunks: Iterator[bytes] = (
        iter(lambda: source.read(1 << 20), b"") if hasattr(source, "read") else iter(source)
    )
    head = b""
    taken: list[bytes] = []
    for chunk in chunks:
        taken.append(chunk)
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    if head:  # an empty file is refused by the spool with its own message
        require_recording_head(head)
    return itertools.chain(taken, chunks)


def ingest_recording(
    store: Store,
    spool: Spool,
    config: ApplianceConfig,
    *,
    interview_id: int,
    source: BinaryIO | Iterable[bytes],
    filename: str,
    content_type: str = "application/octet-stream",
    actor: str,
) -> Ingested:
    """Encrypt a recording into the spool and, in one transaction, record it and queue `analyse`.

    NotARecordingError before anything is stored if the bytes do not start a recording."""
    interview = store.interviews.get(interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    check_queue_room(store, config)
    # The size of a stream is not known ahead: the floor must hold before it starts.
    require_free_space(config, 0)
    source = _checked_source(source)
    key = store.vault.key_for(candidate.pseudonym)
    spooled = spool.write_stream(source, key, max_bytes=config.media.max_upload_bytes)
    try:
        with store.transaction():
            done = record_and_queue(
                store,
                config,
                interview_id=interview.id,
                candidate=candidate,
                spool_name=spooled.name,
                display_name=safe_display_name(filename),
                content_type=content_type,
                size_bytes=spooled.size_bytes,
                sha256=spooled.sha256,
                wrapped_data_key=spooled.wrapped_data_key,
                actor=actor,
            )
    except BaseException:
        spool.remove(spooled.name)
        raise
    logger.info(
        "recording %s stored (%d bytes), job %s queued",
        done.recording.id,
        spooled.size_bytes,
        done.job.id,
    )
    return done
