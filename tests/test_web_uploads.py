"""Resumable uploads and analysis pages through the Flask test client, over the real store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.media.spool import PARTIAL_PREFIX
from appliance.store import Store
from tests.conftest import (
    Appliance,
    csrf_token_from,
    demo_interview,
    login,
    make_appliance,
    make_user,
    write_wav,
)

PIECE = 1 << 20
MARKER = b"PLAINTEXT-MARKER-0123456789-never-on-disk"


@dataclass
class Setup:
    appliance: Appliance
    store: Store
    app: Flask
    interview_id: int  # Engineering, EU
    sales_interview_id: int  # Sales, EU


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """An appliance with 1 MiB pieces, people of two departments and an interview each."""
    from webui import create_app

    appliance = make_appliance(
        tmp_path, web={"upload_piece_bytes": PIECE}, media={"spool_chunk_bytes": PIECE}
    )
    store = appliance.open_store()
    interview_id = demo_interview(store)
    with store.transaction():
        sales = store.requisitions.create("Account executive", "Sales", "Berlin", "EU")
    candidate = store.candidates.create("Sales Candidate", email="sales@example.invalid")
    sales_interview_id = store.interviews.create(candidate.id, sales.id).id
    make_user(store, "rec.eng", "recruiter", departments=["Engineering"], regions=["EU"])
    make_user(store, "rec.eng2", "recruiter", departments=["Engineering"], regions=["EU"])
    make_user(store, "rec.sales", "recruiter", departments=["Sales"], regions=["EU"])
    make_user(store, "hr.eu", "hr_admin", departments=[], regions=["EU"])
    make_user(store, "int.view", "interviewer", departments=["Engineering"], regions=["EU"])
    app = create_app(appliance.config, store)
    app.config.update(TESTING=True, SESSION_COOKIE_SECURE=False)
    yield Setup(appliance, store, app, interview_id, sales_interview_id)
    store.close()


def client_of(setup: Setup, username: str) -> tuple[FlaskClient, str]:
    """A logged-in client and the CSRF token of its session."""
    client = setup.app.test_client()
    reply = login(client, username)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    page = client.get("/analysis" if username != "int.view" else "/account")
    return client, csrf_token_from(page.get_data(as_text=True))


def json_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["X-CSRFToken"] = token
    return headers


def start(client: FlaskClient, token: str | None, interview_id: int, total: int) -> Any:
    return client.post(
        f"/interviews/{interview_id}/uploads",
        json={"filename": "answer.wav", "content_type": "audio/wav", "total_bytes": total},
        headers=json_headers(token),
    )


def put(client: FlaskClient, token: str | None, upload_id: str, offset: int, data: bytes) -> Any:
    return client.put(
        f"/uploads/{upload_id}?offset={offset}",
        data=data,
        headers={**json_headers(token), "Content-Type": "application/octet-stream"},
    )


def spool_bytes(appliance: Appliance) -> list[tuple[str, bytes]]:
    folder = appliance.config.paths.spool
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def assert_no_plaintext(appliance: Appliance, wav: bytes) -> None:
    probes = [MARKER, wav[:12], wav[44:108], wav[len(wav) // 2 : len(wav) // 2 + 64], wav[-64:]]
    files = spool_bytes(appliance)
    assert files, "nothing in the spool"
    for name, content in files:
        for probe in probes:
            assert probe not in content, f"{name} holds plaintext of the recording"


def test_resumable_upload_in_pieces_resume_and_completion(tmp_path: Path, setup: Setup) -> None:
    wav = write_wav(tmp_path / "answer.wav", 82.0, marker=MARKER).read_bytes()
    assert 2.4 * PIECE < len(wav) < 2.7 * PIECE
    client, token = client_of(setup, "rec.eng")

    page = client.get(f"/interviews/{setup.interview_id}/upload")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "upload.js" in html and "<progress" in html and 'id="upload-start"' in html
    assert 'id="resumable-upload" class="card" hidden' in html  # shown by upload.js
    assert 'id="needs-js"' in html and "needs JavaScript" in html
    assert f'action="/interviews/{setup.interview_id}/upload/simple"' in html
    assert "<script>" not in html and "style=" not in html  # CSP: no inline script or style

    started = start(client, token, setup.interview_id, len(wav))
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    upload_id = body["id"]
    assert (body["received_bytes"], body["piece_bytes"], body["total_bytes"]) == (
        0,
        PIECE,
        len(wav),
    )

    first = put(client, token, upload_id, 0, wav[:PIECE])
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["received_bytes"] == PIECE
    assert first.get_json()["completed"] is False
    assert_no_plaintext(setup.appliance, wav)  # the partial file is encrypted too
    assert any(name.startswith(PARTIAL_PREFIX) for name, _ in spool_bytes(setup.appliance))

    # A piece for the wrong offset: 409 and where to continue.
    wrong = put(client, token, upload_id, 0, wav[:PIECE])
    assert wrong.status_code == 409
    assert wrong.get_json()["error"]["code"] == "offset_mismatch"
    assert wrong.get_json()["error"]["expected"] == PIECE
    ahead = put(client, token, upload_id, 2 * PIECE, wav[2 * PIECE : 3 * PIECE])
    assert ahead.status_code == 409
    assert ahead.get_json()["error"]["expected"] == PIECE

    # "Reload": a new browser session of the same user asks where the upload stands.
    again, token2 = client_of(setup, "rec.eng")
    status = again.get(f"/uploads/{upload_id}", headers=json_headers(None))
    assert status.status_code == 200
    assert status.get_json()["received_bytes"] == PIECE
    offset = status.get_json()["received_bytes"]
    reply = None
    while offset < len(wav):
        reply = put(again, token2, upload_id, offset, wav[offset : offset + PIECE])
        assert reply.status_code == 200, reply.get_json()
        offset = reply.get_json()["received_bytes"]
    assert reply is not None
    done = reply.get_json()
    assert done["completed"] is True and done["received_bytes"] == len(wav)
    assert done["job_url"] == f"/analysis/{done['job_id']}"

    # A recording and its queued analysis job exist; the spool holds ciphertext only.
    recording = setup.store.recordings.get(done["recording_id"])
    assert (recording.interview_id, recording.size_bytes) == (setup.interview_id, len(wav))
    job = setup.store.jobs.get(done["job_id"])
    assert (job.kind, job.state, job.subject_type, job.subject_id) == (
        "analyse",
        "queued",
        "recording",
        recording.id,
    )
    assert_no_plaintext(setup.appliance, wav)
    assert setup.appliance.spool().names() == {recording.spool_name}
    assert setup.store.interviews.get(setup.interview_id).status == "recorded"

    # The status of a completed upload names its job; more pieces are refused with 409.
    status = again.get(f"/uploads/{upload_id}", headers=json_headers(None)).get_json()
    assert (status["completed"], status["job_id"]) == (True, job.id)
    late = put(again, token2, upload_id, 0, wav[:PIECE])
    assert late.status_code == 409 and late.get_json()["error"]["expected"] == len(wav)

    # The analysis pages show the job; the JSON progress endpoint answers.
    listing = again.get("/analysis").get_data(as_text=True)
    assert f'id="job-{job.id}"' in listing and "queued" in listing
    detail = again.get(f"/analysis/{job.id}")
    assert detail.status_code == 200
    assert "progress.js" in detail.get_data(as_text=True)
    assert f'data-status-url="/analysis/{job.id}.json"' in detail.get_data(as_text=True)
    progress = again.get(f"/analysis/{job.id}.json")
    assert progress.status_code == 200
    data = progress.get_json()
    assert (data["id"], data["state"], data["progress"], data["finished"]) == (
        job.id,
        "queued",
        0,
        False,
    )
    assert data["attempts"] == 0 and data["report_url"] is None
    assert "Test Candidate" not in progress.get_data(as_text=True)  # no personal data


def test_first_piece_must_look_like_media(tmp_path: Path, setup: Setup) -> None:
    client, token = client_of(setup, "rec.eng")
    total = PIECE + 100
    upload_id = start(client, token, setup.interview_id, total).get_json()["id"]
    refused = put(client, token, upload_id, 0, b"%PDF-1.7\n" + bytes(PIECE - 9))
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "media_rejected"
    status = client.get(f"/uploads/{upload_id}", headers=json_headers(None)).get_json()
    assert status["received_bytes"] == 0


def test_upload_limits_and_bad_requests(tmp_path: Path, setup: Setup) -> None:
    client, token = client_of(setup, "rec.eng")
    empty = start(client, token, setup.interview_id, 0)
    assert empty.status_code == 422 and empty.get_json()["error"]["code"] == "media_rejected"
    huge = start(
        client, token, setup.interview_id, setup.appliance.config.media.max_upload_bytes + 1
    )
    assert huge.status_code == 422
    not_json = client.post(
        f"/interviews/{setup.interview_id}/uploads", data="x", headers=json_headers(token)
    )
    assert not_json.status_code == 400
    assert not_json.get_json()["error"]["code"] == "invalid_request"
    upload_id = start(client, token, setup.interview_id, 3 * PIECE).get_json()["id"]
    no_offset = client.put(f"/uploads/{upload_id}", data=b"x", headers=json_headers(token))
    assert no_offset.status_code == 400
    too_big = put(client, token, upload_id, 0, bytes(PIECE + 1))
    assert too_big.status_code == 413


def test_other_user_cannot_continue_an_upload(tmp_path: Path, setup: Setup) -> None:
    wav = write_wav(tmp_path / "answer.wav", 40.0).read_bytes()
    owner, token = client_of(setup, "rec.eng")
    upload_id = start(owner, token, setup.interview_id, len(wav)).get_json()["id"]
    colleague, token2 = client_of(setup, "rec.eng2")  # same department, another person
    assert colleague.get(f"/uploads/{upload_id}", headers=json_headers(None)).status_code == 404
    stolen = put(colleague, token2, upload_id, 0, wav[:PIECE])
    assert stolen.status_code == 404
    assert stolen.get_json()["error"]["code"] == "not_found"
    assert put(owner, token, upload_id, 0, wav[:PIECE]).status_code == 200
    missing = owner.get("/uploads/no-such-upload", headers=json_headers(None))
    assert missing.status_code == 404


def test_other_department_sees_no_upload_page(tmp_path: Path, setup: Setup) -> None:
    client, token = client_of(setup, "rec.sales")
    assert client.get(f"/interviews/{setup.interview_id}/upload").status_code == 404
    assert start(client, token, setup.interview_id, 1000).status_code == 404
    assert client.get(f"/interviews/{setup.sales_interview_id}/upload").status_code == 200
    assert client.get("/interviews/999999/upload").status_code == 404
    # An interviewer may not upload at all.
    interviewer, _ = client_of(setup, "int.view")
    assert interviewer.get(f"/interviews/{setup.interview_id}/upload").status_code == 403


def test_csrf_header_is_required(tmp_path: Path, setup: Setup) -> None:
    client, token = client_of(setup, "rec.eng")
    refused = start(client, None, setup.interview_id, 1000)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    upload_id = start(client, token, setup.interview_id, 1000).get_json()["id"]
    wav = write_wav(tmp_path / "a.wav", 0.01).read_bytes()[:1000]
    no_token = put(client, None, upload_id, 0, wav)
    assert no_token.status_code == 400
    assert no_token.get_json()["error"]["code"] == "csrf_failed"
    forged = put(client, "not-the-token", upload_id, 0, wav)
    assert forged.status_code == 400


def test_simple_form_upload_without_javascript(tmp_path: Path, setup: Setup) -> None:
    client, token = client_of(setup, "rec.eng")
    wav = write_wav(tmp_path / "short.wav", 5.0, marker=MARKER)
    with open(wav, "rb") as handle:
        reply = client.post(
            f"/interviews/{setup.interview_id}/upload/simple",
            data={"csrf_token": token, "file": (handle, "short.wav", "audio/wav")},
            content_type="multipart/form-data",
        )
    assert reply.status_code == 303
    match = re.fullmatch(r"/analysis/(\d+)", reply.headers["Location"])
    assert match, reply.headers["Location"]
    job = setup.store.jobs.get(int(match.group(1)))
    assert (job.kind, job.state) == ("analyse", "queued")
    assert_no_plaintext(setup.appliance, wav.read_bytes())

    text = tmp_path / "notes.txt"
    text.write_bytes(b"just some notes, not a recording" * 10)
    with open(text, "rb") as handle:
        refused = client.post(
            f"/interviews/{setup.interview_id}/upload/simple",
            data={"csrf_token": token, "file": (handle, "notes.txt", "text/plain")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
    assert "does not look like an audio or video recording" in refused.get_data(as_text=True)
    big = write_wav(tmp_path / "big.wav", 40.0)  # over one piece
    with open(big, "rb") as handle:
        too_big = client.post(
            f"/interviews/{setup.interview_id}/upload/simple",
            data={"csrf_token": token, "file": (handle, "big.wav", "audio/wav")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
    assert "only files up to 1.0 MiB" in too_big.get_data(as_text=True)
    assert len(setup.store.jobs.recent()) == 1


def finish_next_job(store: Store, state: str = "succeeded") -> int:
    """Play the worker: claim the next job and finish it."""
    claim = store.jobs.claim("test-worker")
    assert claim is not None
    with store.transaction():
        if state == "succeeded":
            store.jobs.succeed(claim, {"ok": True})
        else:
            store.jobs.fail(claim, "media_unreadable", "the recording cannot be decoded")
    return claim.job.id


def simple_upload(client: FlaskClient, token: str, interview_id: int, wav: Path) -> int:
    with open(wav, "rb") as handle:
        reply = client.post(
            f"/interviews/{interview_id}/upload/simple",
            data={"csrf_token": token, "file": (handle, wav.name, "audio/wav")},
            content_type="multipart/form-data",
        )
    assert reply.status_code == 303, reply.get_data(as_text=True)
    return int(reply.headers["Location"].rsplit("/", 1)[1])


def test_jobs_are_scoped_and_finished_ones_are_announced(tmp_path: Path, setup: Setup) -> None:
    wav = write_wav(tmp_path / "short.wav", 2.0)
    eng, eng_token = client_of(setup, "rec.eng")
    sales, sales_token = client_of(setup, "rec.sales")
    hr, _ = client_of(setup, "hr.eu")
    eng_job = simple_upload(eng, eng_token, setup.interview_id, wav)
    sales_job = simple_upload(sales, sales_token, setup.sales_interview_id, wav)

    eng_list = eng.get("/analysis").get_data(as_text=True)
    assert f'id="job-{eng_job}"' in eng_list and f'id="job-{sales_job}"' not in eng_list
    for path in (f"/analysis/{sales_job}", f"/analysis/{sales_job}.json"):
        denied = eng.get(path, headers=json_headers(None))
        assert denied.status_code == 404
        assert denied.get_json()["error"] == {"code": "not_found", "message": "not found"}
    assert eng.get("/analysis/999999").status_code == 404
    assert sales.get(f"/analysis/{eng_job}.json").status_code == 404
    hr_list = hr.get("/analysis").get_data(as_text=True)  # region scope: both departments
    assert f'id="job-{eng_job}"' in hr_list and f'id="job-{sales_job}"' in hr_list
    assert "Finished" in hr_list and "finished-" not in hr_list  # nothing finished yet

    # The worker finishes the jobs; the next visit announces them, once.
    assert finish_next_job(setup.store) == eng_job
    assert finish_next_job(setup.store, "failed") == sales_job
    announced = hr.get("/analysis").get_data(as_text=True)
    assert "Finished since your last visit" in announced
    assert f'id="finished-{eng_job}"' in announced and f'id="finished-{sales_job}"' in announced
    assert "media_unreadable" in announced
    eng_announced = eng.get("/analysis").get_data(as_text=True)
    assert f'id="finished-{eng_job}"' in eng_announced
    assert f'id="finished-{sales_job}"' not in eng_announced
    later = hr.get("/analysis").get_data(as_text=True)
    assert "finished-" not in later
    progress = eng.get(f"/analysis/{eng_job}.json").get_json()
    assert (progress["state"], progress["progress"], progress["finished"]) == (
        "succeeded",
        100,
        True,
    )
    failed = hr.get(f"/analysis/{sales_job}").get_data(as_text=True)
    assert 'data-finished="true"' in failed and "media_unreadable" in failed

    # A new session without a last visit shows what finished in the last day.
    newer = setup.app.test_client()
    login(newer, "hr.eu")
    first = newer.get("/analysis").get_data(as_text=True)
    assert "Finished in the last 24 hours" in first and f'id="finished-{eng_job}"' in first
