"""A take's pieces go straight into the encrypted spool; finishing is a quick acknowledgement and
the worker stores the answer, once, even when it is killed half-way.

Real store, real spool, real webm answers (VP8 face video, LibriVox speech), the real worker.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import appliance.room.takes as takes_module
from appliance.jobs.worker import Worker
from appliance.media.pieces import Progress
from appliance.media.spool import Spool
from appliance.platform.errors import SpoolIntegrityError
from appliance.room.consent import ConsentAnswers
from appliance.room.service import RoomError, current_question, room_of
from appliance.room.takes import (
    ASSEMBLE,
    MAX_PIECE_BYTES,
    PieceOrderError,
    add_piece,
    assemble_take,
    discard_take,
    finish_take,
    flush_progress,
    keep_take,
    start_take,
    submit_take,
    sweep_abandoned_takes,
)
from appliance.store import Store
from appliance.store.room import Take
from tests.conftest import Appliance, csrf_token_from
from tests.support.plaintext_scan import regular_files, scan_in_child
from tests.support.room_fixtures import room_setup
from tests.support.room_media import answer_webm, librivox_clips
from tests.support.room_takes import PIECE, give_consent, take_pieces


@pytest.fixture(scope="module")
def answer(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real webm answer as a browser records it."""
    folder = tmp_path_factory.mktemp("answer")
    return answer_webm(folder / "a.webm", next(iter(librivox_clips()))).read_bytes()


def _room(store: Store, name: str = "Spool Candidate") -> tuple[str, int]:
    setup = room_setup(store, name=name)
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    return setup.token, setup.interview_id


def _begin(store: Store, token: str, key: str, spool: Spool | None = None) -> Take:
    opened = room_of(store, token)
    question = current_question(store, opened.room)
    assert question is not None
    return start_take(store, opened, question.id, key, "video/webm", spool=spool)


def _send_all(store: Store, spool: Spool, token: str, key: str, data: bytes) -> int:
    pieces = list(take_pieces(data))
    for seq, piece in pieces:
        add_piece(store, spool, room_of(store, token), key, seq, piece)
    return len(pieces)


def _read(spool: Spool, store: Store, recording_id: int) -> bytes:
    recording = store.recordings.get(recording_id)
    candidate = store.candidates.get(recording.candidate_id)
    key = store.vault.key_for(candidate.pseudonym)
    with spool.open(recording.spool_name, recording.wrapped_data_key, key) as reader:
        return reader.read()


def test_pieces_are_sealed_in_the_spool_and_the_worker_stores_the_answer_once(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, interview_id = _room(store)
    key = "spool-take-key-123456"
    take = _begin(store, token, key, spool)
    assert take.spool_name is not None and spool.pieces_path(take.spool_name).is_file()
    count = _send_all(store, spool, token, key, answer)
    # Nothing of the answer went through the database: only the take's progress (written at
    # most once a second: what this process still holds is written now).
    assert store.conn.execute("SELECT count(*) FROM room_chunks").fetchone()[0] == 0
    flush_progress(store)
    row = store.room.take(take.id)
    assert (row.next_seq, row.received_bytes) == (count, len(answer))

    opened = room_of(store, token)
    started = time.monotonic()
    finished = submit_take(
        store, spool, appliance.config, opened, key, pieces=count, total_bytes=len(answer)
    )
    assert time.monotonic() - started < 1.0  # an acknowledgement, not the assembly
    assert finished.finished_at is not None and not finished.safe
    with pytest.raises(RoomError, match="still being saved"):
        keep_take(store, opened, key)
    # A repeated finish (a lost answer) queues nothing more.
    again = submit_take(
        store, spool, appliance.config, opened, key, pieces=count, total_bytes=len(answer)
    )
    assert again.job_id == finished.job_id

    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded"
    job = store.jobs.get(outcome.job_id)
    assert job.kind == ASSEMBLE and job.result is not None and job.result["stored"] is True
    stored = store.room.take(take.id)
    assert stored.safe and stored.duration_s is not None and stored.duration_s > 1
    assert stored.recording_id is not None and stored.recording_id == job.result["recording"]
    assert _read(spool, store, stored.recording_id) == answer
    recording = store.recordings.get(stored.recording_id)
    assert recording.media_info and recording.media_info["has_video"]
    # Sealed and moved among the recordings: the pieces folder is empty again.
    assert spool.path_of(recording.spool_name).is_file()
    assert spool.pieces_names() == {}
    raw = spool.path_of(recording.spool_name).read_bytes()
    assert answer[200:264] not in raw

    # Assembling again (a repeated job, a page of the previous version) stores nothing twice.
    assert assemble_take(store, spool, appliance.config, take.id).recording_id == recording.id
    done = finish_take(
        store, spool, appliance.config, opened, key, pieces=count, total_bytes=len(answer)
    )
    assert done.take.recording_id == recording.id
    assert [r.id for r in store.recordings.for_interview(interview_id)] == [recording.id]
    keep_take(store, room_of(store, token), key)
    assert store.interview_answers.for_interview(interview_id)[0].recording_id == recording.id


def test_no_plaintext_of_a_piece_reaches_any_file(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    key = "plain-take-key-1234567"
    _begin(store, token, key, spool)
    # A piece with a marker no other byte string holds: it must only exist encrypted.
    marker = b"ROOMPIECECANARY" + os.urandom(17)
    first = answer[:PIECE]
    pieces = [first, marker * 64 + answer[PIECE : 2 * PIECE]]
    for seq, piece in enumerate(pieces):
        add_piece(store, spool, room_of(store, token), key, seq, piece)
    needles = {"marker": marker, "head": answer[100:164]}
    files = sorted(regular_files(appliance.data_dir))
    assert any("/spool/pieces/" in path for path in files)
    assert scan_in_child(files, needles) == []


def test_a_lagging_row_a_repeated_piece_and_a_torn_record_lose_nothing(
    appliance: Appliance, store: Store, answer: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    key = "lagging-take-key-12345"
    take = _begin(store, token, key, spool)
    pieces = list(take_pieces(answer))
    # The write lock is never free when a piece looks: the row stays behind the file.
    monkeypatch.setattr(store.room, "record_progress", lambda progress, *, wait: wait)
    for seq, piece in pieces[:3]:
        add_piece(store, spool, room_of(store, token), key, seq, piece)
    assert store.room.take(take.id).next_seq == 0
    # Another process knows nothing of this one's pending progress: the file tells it.
    monkeypatch.setattr(takes_module, "_PENDING", takes_module._PendingProgress())
    again = add_piece(store, spool, room_of(store, token), key, 1, pieces[1][1])
    assert (again.next_seq, again.received_bytes) == (3, sum(len(p) for _, p in pieces[:3]))
    with pytest.raises(PieceOrderError) as gap:
        add_piece(store, spool, room_of(store, token), key, 5, pieces[5][1])
    assert gap.value.expected == 3
    # A crash in the middle of writing piece 3: half a record at the end of the file.
    assert take.spool_name is not None
    with open(spool.pieces_path(take.spool_name), "ab") as handle:
        handle.write(b"\x00\x00\x00\x03\x00\x00\x40\x00" + os.urandom(900))
    for seq, piece in pieces[3:]:
        add_piece(store, spool, room_of(store, token), key, seq, piece)
    monkeypatch.undo()
    done = finish_take(
        store,
        spool,
        appliance.config,
        room_of(store, token),
        key,
        pieces=len(pieces),
        total_bytes=len(answer),
    )
    assert done.take.next_seq == len(pieces)
    assert _read(spool, store, done.take.recording_id or 0) == answer


def test_a_piece_never_waits_for_the_write_lock(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    key = "no-wait-take-key-12345"
    take = _begin(store, token, key, spool)
    pieces = list(take_pieces(answer))
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        conn = store.database.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            holding.set()
            release.wait(30)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        for seq, piece in pieces[:4]:
            reply = add_piece(store, spool, room_of(store, token), key, seq, piece)
            assert reply.next_seq == seq + 1
        assert time.monotonic() - started < 2.0  # no busy wait (the timeout is 15 s)
        assert store.room.take(take.id).next_seq == 0  # the row waits for a free moment
    finally:
        release.set()
        holder.join()
    add_piece(store, spool, room_of(store, token), key, 4, pieces[4][1])
    assert store.room.take(take.id).next_seq == 5  # caught up in one short transaction


def test_the_same_piece_sent_twice_at_once_is_stored_once(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    key = "racing-take-key-123456"
    take = _begin(store, token, key, spool)
    pieces = list(take_pieces(answer))
    errors: list[BaseException] = []

    def send(seq: int, piece: bytes) -> None:
        try:
            add_piece(store, spool, room_of(store, token), key, seq, piece)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    for seq, piece in pieces:
        racers = [threading.Thread(target=send, args=(seq, piece)) for _ in range(3)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
    assert errors == []
    flush_progress(store)
    assert store.room.take(take.id).next_seq == len(pieces)
    assert take.spool_name is not None
    size = spool.pieces_path(take.spool_name).stat().st_size
    assert size == Progress(len(pieces), len(answer)).offset


def test_pieces_kept_in_the_database_before_the_upgrade_move_into_the_spool(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    key = "legacy-take-key-123456"
    take = _begin(store, token, key)  # as a take begun by the previous version: no file
    assert take.spool_name is None
    pieces = list(take_pieces(answer))
    candidate = store.candidates.get(room_of(store, token).interview.candidate_id)
    data_key = store.vault.key_for(candidate.pseudonym)
    with store.transaction():
        for seq, piece in pieces[:3]:
            store.room.add_chunk(take.id, seq, piece, data_key)
        store.room.update_take(
            take.id, next_seq=3, received_bytes=sum(len(p) for _, p in pieces[:3])
        )
    for seq, piece in pieces[3:]:
        add_piece(store, spool, room_of(store, token), key, seq, piece)
    assert store.conn.execute("SELECT count(*) FROM room_chunks").fetchone()[0] == 0
    done = finish_take(
        store,
        spool,
        appliance.config,
        room_of(store, token),
        key,
        pieces=len(pieces),
        total_bytes=len(answer),
    )
    assert _read(spool, store, done.take.recording_id or 0) == answer


def test_an_unreadable_recording_is_refused_by_the_worker_and_can_be_recorded_again(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    key = "broken-take-key-123456"
    take = _begin(store, token, key, spool)
    broken = answer[:48] + os.urandom(60_000)  # starts like a webm, then noise
    count = _send_all(store, spool, token, key, broken)
    submit_take(
        store,
        spool,
        appliance.config,
        room_of(store, token),
        key,
        pieces=count,
        total_bytes=len(broken),
    )
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded"
    result = store.jobs.get(outcome.job_id).result
    assert result is not None and result["stored"] is False
    refused = store.room.take(take.id)
    assert refused.error and "could not be read" in refused.error and not refused.safe
    assert store.recordings.for_interview(refused.recording_id or 0) == []
    discard_take(store, spool, room_of(store, token), key)
    assert spool.pieces_names() == {}
    # A refused take does not use up an attempt.
    _begin(store, token, "broken-take-again-12345", spool)


def test_abandoned_takes_and_stray_pieces_files_are_swept(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    take = _begin(store, token, "swept-take-key-1234567", spool)
    add_piece(store, spool, room_of(store, token), "swept-take-key-1234567", 0, answer[:PIECE])
    stray, _wrapped = spool.begin_pieces(os.urandom(32))
    assert sweep_abandoned_takes(store, appliance.config, spool) == 0
    assert set(spool.pieces_names()) == {take.spool_name, stray}  # young: may be a new take's
    old = time.time() - 7200
    os.utime(spool.pieces_path(stray), (old, old))
    with store.transaction():
        store.conn.execute("UPDATE room_takes SET updated_at = '2020-01-01T00:00:00Z'")
    assert sweep_abandoned_takes(store, appliance.config, spool) == 1
    assert spool.pieces_names() == {}
    assert store.room.take(take.id).state == "discarded"


def test_a_finished_take_whose_assembly_gave_up_is_kept_and_queued_again(
    appliance: Appliance, store: Store, answer: bytes
) -> None:
    spool = appliance.spool()
    token, _ = _room(store)
    key = "stalled-take-key-123456"
    take = _begin(store, token, key, spool)
    count = _send_all(store, spool, token, key, answer)
    finished = submit_take(
        store,
        spool,
        appliance.config,
        room_of(store, token),
        key,
        pieces=count,
        total_bytes=len(answer),
    )
    assert finished.job_id is not None
    store.jobs.cancel(finished.job_id, "the disk was full, say")
    with store.transaction():
        store.conn.execute("UPDATE room_takes SET updated_at = '2020-01-01T00:00:00Z'")
    # Days later: the candidate is done, so the take is not abandoned; its assembly runs again.
    assert sweep_abandoned_takes(store, appliance.config, spool) == 0
    again = store.room.take(take.id)
    assert again.state == "recording" and again.job_id not in (None, finished.job_id)
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.job_id == again.job_id
    assert store.room.take(take.id).safe


def _kill_here(*_args: Any, **_kwargs: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _worker_killed_at(appliance: Appliance, store: Store, point: str) -> None:
    """Run the worker in a forked process that is killed (SIGKILL) at `point`."""
    pid = os.fork()
    if pid == 0:  # the child: a worker of its own, with its own connections
        try:
            if point == "probe":
                setattr(takes_module, "probe", _kill_here)  # noqa: B010 - the child's own copy
            else:
                Spool.publish_pieces = _kill_here  # type: ignore[method-assign]
            worker = Worker(appliance.config, store)
            worker.register()
            worker.run_once()
        finally:
            os._exit(3)  # not killed: the parent sees it
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("point", ["probe", "publish"])
def test_a_worker_killed_mid_assembly_leaves_the_take_whole_and_it_is_stored_once(
    appliance: Appliance, store: Store, answer: bytes, point: str
) -> None:
    spool = appliance.spool()
    token, interview_id = _room(store)
    key = f"killed-{point}-take-key-1"
    take = _begin(store, token, key, spool)
    count = _send_all(store, spool, token, key, answer)
    finished = submit_take(
        store,
        spool,
        appliance.config,
        room_of(store, token),
        key,
        pieces=count,
        total_bytes=len(answer),
    )
    _worker_killed_at(appliance, store, point)
    job = store.jobs.get(finished.job_id or 0)
    assert job.state == "running" and job.attempts == 1  # nobody cleaned up: the worker died
    assert store.room.take(take.id).finished_at is not None
    if point == "probe":
        assert not store.room.take(take.id).safe
    else:  # the record committed, the file was not moved: it still reads where it lies
        stored = store.room.take(take.id)
        assert stored.safe and _read(spool, store, stored.recording_id or 0) == answer

    worker = Worker(appliance.config, store)
    worker.register()  # requeues the dead worker's job
    outcome = worker.run_once()
    assert outcome is not None and outcome.job_id == job.id and outcome.state == "succeeded"
    runs = store.jobs.runs(job.id)
    assert [run["outcome"] for run in runs] == ["abandoned", "succeeded"]
    stored = store.room.take(take.id)
    assert stored.safe
    recordings = store.recordings.for_interview(interview_id)
    assert [r.id for r in recordings] == [stored.recording_id]  # stored once
    assert _read(spool, store, recordings[0].id) == answer
    assert spool.path_of(recordings[0].spool_name).is_file() and spool.pieces_names() == {}


def test_a_sealed_file_cut_short_or_altered_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    candidate_key = os.urandom(32)
    name, wrapped = spool.begin_pieces(candidate_key)
    data = [os.urandom(1000 + n) for n in range(5)]
    with spool.pieces(name, wrapped, candidate_key, max_piece_bytes=MAX_PIECE_BYTES) as file:
        held = file.settle(Progress(0, 0))
        for seq, piece in enumerate(data):
            held = file.append(held, seq, piece)
        file.seal(held)
    spool.publish_pieces(name)
    with spool.open(name, wrapped, candidate_key) as reader:
        assert reader.read() == b"".join(data)
        reader.seek(2500)
        assert reader.read(10) == b"".join(data)[2500:2510]
    path = spool.path_of(name)
    whole = path.read_bytes()
    path.write_bytes(whole[: Progress(4, sum(map(len, data[:4]))).offset])  # the last piece and end
    with pytest.raises(SpoolIntegrityError):
        spool.open(name, wrapped, candidate_key)
    altered = bytearray(whole)
    altered[Progress(2, len(data[0]) + len(data[1])).offset + 40] ^= 1
    path.write_bytes(bytes(altered))
    with spool.open(name, wrapped, candidate_key) as reader, pytest.raises(SpoolIntegrityError):
        reader.read()
    path.write_bytes(whole)
    with pytest.raises(SpoolIntegrityError):
        spool.open(name, wrapped, os.urandom(32))


def test_the_page_is_answered_at_once_and_asks_until_its_answer_is_safe(
    web: tuple[Any, Store], appliance: Appliance, answer: bytes
) -> None:
    app, store = web
    token, interview_id = _room(store, name="Web Spool Candidate")
    client = app.test_client()
    page = client.get(f"/room/{token}/interview").get_data(as_text=True)
    headers = {"X-CSRFToken": csrf_token_from(page)}
    state = client.get(f"/room/{token}/state").get_json()
    key = "web-spool-take-key-1234"
    made = client.post(
        f"/room/{token}/questions/{state['question']['id']}/takes",
        json={"key": key, "content_type": "video/webm"},
        headers=headers,
    )
    assert made.status_code == 201
    pieces = list(take_pieces(answer))
    for seq, piece in pieces:
        reply = client.put(f"/room/{token}/takes/{key}/pieces/{seq}", data=piece, headers=headers)
        assert reply.status_code == 200 and reply.get_json()["next_seq"] == seq + 1
    finished = client.post(
        f"/room/{token}/takes/{key}/finish",
        json={"pieces": len(pieces), "bytes": len(answer), "background": True},
        headers=headers,
    )
    assert finished.status_code == 200, finished.get_json()
    body = finished.get_json()
    assert body["finished"]["finished"] is True and body["finished"]["safe"] is False
    assert body["take"]["key"] == key and body["take"]["finished"] is True
    waiting = client.get(f"/room/{token}/takes/{key}").get_json()
    assert waiting["safe"] is False and waiting["problem"] is None
    early = client.post(f"/room/{token}/takes/{key}/keep", json={}, headers=headers)
    assert early.status_code == 409

    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded"
    safe = client.get(f"/room/{token}/takes/{key}").get_json()
    assert safe["safe"] is True and safe["duration_s"] > 1 and safe["state"] == "complete"
    kept = client.post(f"/room/{token}/takes/{key}/keep", json={}, headers=headers)
    assert kept.status_code == 200 and kept.get_json()["answered"] == 1
    assert len(store.interview_answers.for_interview(interview_id)) == 1
    assert client.get(f"/room/{token}/takes/not-a-take-key-12345").status_code == 404
