"""Resumable uploads in the core: pieces, offsets, torn tails, sniffing, completion."""

from __future__ import annotations

import pytest

from appliance.jobs.worker import Worker
from appliance.media.uploads import UploadOffsetError, append_piece, start_upload
from appliance.platform.errors import MediaRejectedError, QueueFullError

from .conftest import Appliance, demo_interview, make_appliance, write_wav

CHUNK = 64 * 1024


@pytest.fixture
def small_chunks(tmp_path):  # type: ignore[no-untyped-def]
    return make_appliance(tmp_path, media={"spool_chunk_bytes": CHUNK})


def test_upload_in_pieces_resumes_and_completes(small_chunks: Appliance, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = small_chunks
    store, spool = app.open_store(), app.spool()
    interview_id = demo_interview(store)
    data = write_wav(tmp_path / "a.wav", 3.0).read_bytes()  # ~96 KB: two chunks
    session = start_upload(
        store,
        spool,
        app.config,
        interview_id=interview_id,
        filename="../a.wav",
        content_type="audio/wav",
        total_bytes=len(data),
        user_id=None,
    )
    with pytest.raises(UploadOffsetError) as wrong:
        append_piece(
            store,
            spool,
            app.config,
            upload_id=session.id,
            offset=CHUNK,
            data=data[CHUNK:],
            actor="test",
        )
    assert wrong.value.expected == 0
    with pytest.raises(MediaRejectedError, match="multiples"):
        append_piece(
            store, spool, app.config, upload_id=session.id, offset=0, data=data[:1000], actor="test"
        )
    first = append_piece(
        store, spool, app.config, upload_id=session.id, offset=0, data=data[:CHUNK], actor="test"
    )
    assert first.session.received_bytes == CHUNK and first.ingested is None
    # A torn write of an interrupted request: garbage past the acknowledged offset.
    partial = spool.folder / f".partial-{session.spool_name}"
    with open(partial, "ab") as handle:
        handle.write(b"torn tail of a dropped request")
    done = append_piece(
        store,
        spool,
        app.config,
        upload_id=session.id,
        offset=CHUNK,
        data=data[CHUNK:],
        actor="test",
    )
    assert done.ingested is not None
    recording = store.recordings.get(done.ingested.recording.id)
    assert recording.size_bytes == len(data) and recording.display_name == "a.wav"
    assert data[1000:1100] not in spool.path_of(recording.spool_name).read_bytes()
    with spool.open(
        recording.spool_name,
        recording.wrapped_data_key,
        store.vault.key_for(store.candidates.get(recording.candidate_id).pseudonym),
    ) as reader:
        assert reader.read() == data
    outcome = Worker(app.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded"
    with pytest.raises(MediaRejectedError, match="already complete"):
        append_piece(
            store,
            spool,
            app.config,
            upload_id=session.id,
            offset=len(data),
            data=b"x",
            actor="test",
        )
    store.close()


def test_uploads_refuse_non_media_and_oversize(appliance: Appliance) -> None:
    store, spool = appliance.open_store(), appliance.spool()
    interview_id = demo_interview(store)
    with pytest.raises(MediaRejectedError, match="larger than"):
        start_upload(
            store,
            spool,
            appliance.config,
            interview_id=interview_id,
            filename="x",
            content_type="video/mp4",
            total_bytes=appliance.config.media.max_upload_bytes + 1,
            user_id=None,
        )
    session = start_upload(
        store,
        spool,
        appliance.config,
        interview_id=interview_id,
        filename="x.pdf",
        content_type="application/pdf",
        total_bytes=100,
        user_id=None,
    )
    with pytest.raises(MediaRejectedError, match="audio or video"):
        append_piece(
            store,
            spool,
            appliance.config,
            upload_id=session.id,
            offset=0,
            data=b"%PDF-1.7" + b"\0" * 92,
            actor="test",
        )
    assert store.uploads.get(session.id).received_bytes == 0
    store.close()


def test_failed_completion_leaves_the_upload_retryable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_appliance(
        tmp_path, media={"spool_chunk_bytes": CHUNK}, worker={"max_queued_jobs": 1}
    )
    store, spool = app.open_store(), app.spool()
    interview_id = demo_interview(store)
    data = write_wav(tmp_path / "a.wav", 3.0).read_bytes()
    session = start_upload(
        store,
        spool,
        app.config,
        interview_id=interview_id,
        filename="a.wav",
        content_type="audio/wav",
        total_bytes=len(data),
        user_id=None,
    )
    append_piece(
        store, spool, app.config, upload_id=session.id, offset=0, data=data[:CHUNK], actor="test"
    )
    blocker = store.jobs.enqueue("analyse", max_open=1, max_attempts=1)  # the queue is now full
    with pytest.raises(QueueFullError):
        append_piece(
            store,
            spool,
            app.config,
            upload_id=session.id,
            offset=CHUNK,
            data=data[CHUNK:],
            actor="test",
        )
    assert store.uploads.get(session.id).received_bytes == CHUNK
    assert store.recordings.spool_names() == set()
    claim = store.jobs.claim("w")
    assert claim is not None and claim.job.id == blocker.id
    with store.transaction():
        store.jobs.succeed(claim, {})
    done = append_piece(
        store,
        spool,
        app.config,
        upload_id=session.id,
        offset=CHUNK,
        data=data[CHUNK:],
        actor="test",
    )
    assert done.ingested is not None and done.session.received_bytes == len(data)
    assert not list(spool.folder.glob(".partial-*")) and not list(spool.folder.glob(".lock-*"))
    store.close()
