"""Playing a recording back: HTTP range requests over the real encrypted spool (small chunks, so
ranges cross chunk boundaries), two viewers at once, who may play what, the audit entry of a
playback, erased candidates, and no plaintext on disk while a recording plays."""

from __future__ import annotations

import multiprocessing
import os
import random
import stat
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.accounts.auth import principal_of
from appliance.media.playback import (
    ByteRange,
    RangeNotSatisfiableError,
    playback_type,
    requested_range,
)
from appliance.privacy.erasure import erase_candidate
from appliance.store import Store
from appliance.store.erasures import ErasureRepository
from tests.conftest import Appliance, login, make_appliance, make_user, write_wav
from tests.support.analysed_reports import analysed_report

CHUNK = 4096  # the smallest spool chunk the configuration accepts
MARKER = b"PLAYBACKCANARY" + bytes(range(200, 218))

Web = tuple[Flask, Store]


@pytest.fixture
def appliance(tmp_path: Path) -> Appliance:
    """An appliance whose spool seals 4 KiB chunks: a 2 s recording spans 16 of them."""
    return make_appliance(tmp_path, media={"spool_chunk_bytes": CHUNK})


def _recording(appliance: Appliance, store: Store, tmp_path: Path) -> tuple[int, bytes, str]:
    """(recording id, its plaintext bytes, its candidate's pseudonym), stored through ingest."""
    source = write_wav(tmp_path / "source.wav", 2.0, marker=MARKER)
    interview_id, _report, recording_id = analysed_report(
        appliance, store, tmp_path, media=source, cues_consent=False
    )
    data = source.read_bytes()
    source.unlink()  # from here on the plaintext exists only in this test's memory
    candidate = store.candidates.get(store.interviews.get(interview_id).candidate_id)
    return recording_id, data, candidate.pseudonym


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _reads(store: Store, recording_id: int) -> list[tuple[str, str | None]]:
    return [
        (e.actor, e.subject)
        for e in store.audit.entries(action="candidate.read")
        if e.details.get("what") == f"recording-media:{recording_id}"
    ]


# --- the Range header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=0-", ByteRange(0, 999)),
        ("bytes=990-", ByteRange(990, 999)),
        ("bytes=5-5000", ByteRange(5, 999)),  # a last byte past the end is cut to it
        ("bytes=-10", ByteRange(990, 999)),
        ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the file is all of it
        ("Bytes=1-2", ByteRange(1, 2)),
        (" bytes=1-2 ", ByteRange(1, 2)),
    ],
)
def test_requested_range(header: str | None, expected: ByteRange | None) -> None:
    assert requested_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",  # starts at the end
        "bytes=2000-3000",
        "bytes=10-5",  # ends before it starts
        "bytes=-0",
        "bytes=-",
        "bytes=abc",
        "bytes=0-1,5-6",  # several ranges are not served
        "items=0-1",
        "bytes 0-1",
        "bytes=\u0661-\u0662",  # digits, but not ASCII ones
        "bytes=" + "9" * 30 + "-",
    ],
)
def test_unsatisfiable_or_malformed_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError) as refused:
        requested_range(header, 1000)
    assert refused.value.size == 1000


def test_only_audio_and_video_types_are_echoed() -> None:
    assert playback_type("video/webm;codecs=vp8,opus", "a.webm") == "video/webm"
    assert playback_type("AUDIO/WAV", "a.wav") == "audio/wav"
    assert playback_type("application/octet-stream", "answer.webm") == "video/webm"
    assert playback_type("text/html", "page.html") == "application/octet-stream"
    assert playback_type("text/html", "x") == "application/octet-stream"


# --- range requests over the encrypted spool ---------------------------------------------------


def test_whole_file_and_ranges_across_chunk_boundaries(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    recording_id, data, _ = _recording(appliance, store, tmp_path)
    size = len(data)
    assert size > 8 * CHUNK  # the ranges below cross many chunk boundaries
    make_user(store, "play.hr", "hr_admin", regions=["EU"])
    client = _client(app, "play.hr")
    url = f"/recordings/{recording_id}/media"

    whole = client.get(url)
    assert whole.status_code == 200
    assert whole.data == data
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Length"] == str(size)
    assert whole.headers["Content-Type"] == "audio/wav"
    assert whole.headers["Cache-Control"] == "no-store"
    assert "Content-Range" not in whole.headers

    cases = {
        "bytes=0-9": (0, 9),
        f"bytes={CHUNK - 10}-{CHUNK + 9}": (CHUNK - 10, CHUNK + 9),  # one boundary
        f"bytes={CHUNK - 1}-{3 * CHUNK}": (CHUNK - 1, 3 * CHUNK),  # several, and a first byte
        f"bytes={CHUNK}-{CHUNK}": (CHUNK, CHUNK),  # the first byte of a chunk alone
        f"bytes={size - 100}-": (size - 100, size - 1),
        "bytes=-500": (size - 500, size - 1),
        f"bytes=-{size + 10}": (0, size - 1),
        f"bytes=7-{size + 1000}": (7, size - 1),
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),  # the last byte (final chunk)
    }
    rng = random.Random(14)
    for _ in range(40):
        first = rng.randrange(size)
        last = rng.randrange(first, size)
        cases[f"bytes={first}-{last}"] = (first, last)
    for header, (first, last) in cases.items():
        part = client.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.data == data[first : last + 1], header
        assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}", header
        assert part.headers["Content-Length"] == str(last - first + 1), header
        assert part.headers["Accept-Ranges"] == "bytes"
        assert part.headers["Cache-Control"] == "no-store"
        assert part.headers["Content-Type"] == "audio/wav"

    for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 9}", "bytes=9-3", "bytes=x-"):
        refused = client.get(url, headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["Content-Range"] == f"bytes */{size}", header
        assert data[:8] not in refused.data


def test_two_viewers_play_at_once(web: Web, appliance: Appliance, tmp_path: Path) -> None:
    app, store = web
    recording_id, data, _ = _recording(appliance, store, tmp_path)
    make_user(store, "play.one", "hr_admin", regions=["EU"])
    make_user(store, "play.two", "recruiter", departments=["Engineering"], regions=["EU"])
    clients = [_client(app, "play.one"), _client(app, "play.two")]
    url = f"/recordings/{recording_id}/media"
    start = threading.Barrier(len(clients))
    problems: list[str] = []

    def watch(client: FlaskClient, seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait(timeout=30)
            for _ in range(40):
                first = rng.randrange(len(data))
                last = min(len(data) - 1, first + rng.randrange(1, 3 * CHUNK))
                reply = client.get(url, headers={"Range": f"bytes={first}-{last}"})
                if reply.status_code != 206 or reply.data != data[first : last + 1]:
                    problems.append(f"bytes {first}-{last}: {reply.status_code}")
        except Exception as exc:  # reported below: a thread's failure must fail the test
            problems.append(repr(exc))
        finally:
            store.close()  # this thread's own database connections

    threads = [threading.Thread(target=watch, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert problems == []


# --- who may play --------------------------------------------------------------------------------


def test_only_who_may_see_the_report_may_play(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    recording_id, data, _ = _recording(appliance, store, tmp_path)
    url = f"/recordings/{recording_id}/media"
    for username, role, departments, regions in (
        ("play.hr", "hr_admin", [], ["EU"]),
        ("play.rec", "recruiter", ["Engineering"], ["EU"]),
        ("play.lead", "business_lead", ["Engineering"], ["EU"]),
        ("play.cn", "hr_admin", [], ["CN"]),
        ("play.sales", "recruiter", ["Sales"], ["EU"]),
        ("play.int", "interviewer", ["*"], ["*"]),
        ("play.aud", "auditor", ["*"], ["*"]),
        ("play.tech", "tech_expert", ["*"], ["*"]),
    ):
        make_user(store, username, role, departments=departments, regions=regions)
    for username in ("play.hr", "play.rec", "play.lead"):
        assert _client(app, username).get(url).data == data, username
    # Outside the viewer's region or department, or not their interview: as if it did not exist.
    for username in ("play.cn", "play.sales", "play.int"):
        reply = _client(app, username).get(url, headers={"Range": "bytes=0-"})
        assert reply.status_code == 404, username
        assert data[:8] not in reply.data
    # Roles that may not view reports at all.
    for username in ("play.aud", "play.tech"):
        reply = _client(app, username).get(url)
        assert reply.status_code == 403, username
        assert data[:8] not in reply.data
    assert _client(app, "play.hr").get("/recordings/999999/media").status_code == 404
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    reads = _reads(store, recording_id)
    assert len(reads) == 3  # the three allowed playbacks, none of the refusals


def test_a_playback_is_logged_once_not_every_seek(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    recording_id, data, pseudonym = _recording(appliance, store, tmp_path)
    user_id = make_user(store, "play.hr", "hr_admin", regions=["EU"])
    client = _client(app, "play.hr")
    url = f"/recordings/{recording_id}/media"
    assert _reads(store, recording_id) == []
    assert client.get(url, headers={"Range": "bytes=0-"}).status_code == 206
    assert _reads(store, recording_id) == [(f"user:{user_id}", pseudonym)]
    for header in ("bytes=100-", f"bytes={CHUNK}-{2 * CHUNK}", "bytes=-10", f"bytes={len(data)}-"):
        client.get(url, headers={"Range": header})
    assert len(_reads(store, recording_id)) == 1  # seeks and refusals are no new playback
    assert client.get(url).status_code == 200  # a new playback of the whole file
    assert len(_reads(store, recording_id)) == 2
    entry = store.audit.entries(action="candidate.read")[-1]
    assert entry.subject == pseudonym and "Report Candidate" not in str(entry)  # no names


# --- erased candidates ---------------------------------------------------------------------------


def test_an_erased_candidates_recording_no_longer_plays(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    recording_id, data, pseudonym = _recording(appliance, store, tmp_path)
    make_user(store, "play.hr", "hr_admin", regions=["EU"])
    client = _client(app, "play.hr")
    url = f"/recordings/{recording_id}/media"
    assert client.get(url).data == data
    candidate_id = store.recordings.get(recording_id).candidate_id

    # An erasure begun (its tombstone written) and interrupted before, then after, the key was
    # shredded: the recording's row is still there, but it plays no more.
    erasures = ErasureRepository(store)
    with store.transaction():
        erasures.begin(
            candidate_id,
            pseudonym,
            actor="test",
            erased_by=None,
            request_id=None,
            reason="request by e-mail",
            regions=["EU"],
        )
    for step in ("begun", "key shredded"):
        if step == "key shredded":
            store.vault.shred(pseudonym)
        gone = client.get(url, headers={"Range": "bytes=0-"})
        assert gone.status_code == 410, step
        assert gone.mimetype == "text/plain" and "erased" in gone.get_data(as_text=True)
        assert data[:8] not in gone.data

    # The erasure finished: the recording row and its spool file are gone.
    hr = principal_of(store.users.get(make_user(store, "play.eraser", "hr_admin", regions=["EU"])))
    spool_name = store.recordings.get(recording_id).spool_name
    erase_candidate(store, appliance.spool(), hr, candidate_id, "request by e-mail")
    assert not (appliance.config.paths.spool / spool_name).exists()
    assert client.get(url).status_code == 404
    assert len(_reads(store, recording_id)) == 1  # only the playback before the erasure


# --- nothing in clear on disk --------------------------------------------------------------------


def _regular_files(root: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found[path] = info.st_mtime_ns
    return found


def _holding(paths: list[str], needle: bytes) -> list[str]:
    """The files that contain `needle` (read in blocks, also across block boundaries)."""
    found = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                tail = b""
                while block := handle.read(1 << 20):
                    if needle in tail + block:
                        found.append(path)
                        break
                    tail = block[-len(needle) :]
        except OSError:
            continue
    return found


def _scan(paths: list[str], needle: bytes) -> list[str]:
    # A forked child reads the files: closing a database file in this process would drop the
    # POSIX locks its SQLite connections hold.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        return pool.submit(_holding, paths, needle).result(timeout=120)


def test_no_plaintext_reaches_the_disk_during_playback(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    recording_id, data, _ = _recording(appliance, store, tmp_path)
    assert MARKER in data
    make_user(store, "play.hr", "hr_admin", regions=["EU"])
    client = _client(app, "play.hr")
    temp = Path(tempfile.gettempdir())
    before = _regular_files(temp)

    def written() -> list[str]:
        now = {**_regular_files(temp), **_regular_files(appliance.data_dir)}
        return sorted(path for path, mtime in now.items() if before.get(path) != mtime) + sorted(
            _regular_files(appliance.data_dir)
        )

    # Half-way through a streamed playback (the spool file open, chunks decrypted in memory).
    reply = client.get(f"/recordings/{recording_id}/media", buffered=False)
    stream = iter(reply.response)
    received = next(stream)
    assert 0 < len(received) <= CHUNK
    assert _scan(written(), MARKER) == []
    received += b"".join(stream)
    reply.close()
    assert received == data
    # And after whole and partial playbacks, seeks across chunks included.
    for header in ("bytes=0-", f"bytes={CHUNK - 5}-{CHUNK * 2}", "bytes=-3000"):
        client.get(f"/recordings/{recording_id}/media", headers={"Range": header})
    assert _scan(written(), MARKER) == []
    # The scan does find the marker where it is in clear (so it could fail).
    probe = tmp_path / "probe.bin"
    probe.write_bytes(b"x" * 10 + MARKER)
    assert _scan([str(probe)], MARKER) == [str(probe)]
