"""The free-space floor: an upload that would take the data disk below it is refused with a
clear message and stores nothing; the interview room keeps a smaller floor; unfinished uploads
go sooner while the disk is low; the status page shows the floor. The real disk is measured:
the floor is set relative to what is free on it now."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from appliance.media.disk import (
    LOW_DISK_STALE_S,
    DiskSpaceError,
    require_free_space,
    stale_upload_age_s,
)
from appliance.media.recordings import ingest_recording
from appliance.media.uploads import start_upload
from tests.conftest import demo_interview, login, make_appliance, make_user, write_wav

GIB = 1 << 30


def _free(path: Path) -> int:
    return shutil.disk_usage(path).free


def test_uploads_stop_at_the_floor_and_store_nothing(tmp_path: Path) -> None:
    probe = make_appliance(tmp_path / "probe")
    floor = _free(probe.data_dir) + GIB  # a floor the disk is already below
    appliance = make_appliance(tmp_path / "box", media={"min_free_bytes": floor})
    store, spool = appliance.open_store(), appliance.spool()
    try:
        interview_id = demo_interview(store)
        before = sorted(p.name for p in appliance.config.paths.spool.iterdir())
        with pytest.raises(DiskSpaceError, match="short of disk space") as refused:
            start_upload(
                store,
                spool,
                appliance.config,
                interview_id=interview_id,
                filename="long.mp4",
                content_type="video/mp4",
                total_bytes=10 << 20,
                user_id=None,
            )
        assert "media.min_free_bytes" in str(refused.value)
        wav = write_wav(tmp_path / "answer.wav", 0.5)
        with pytest.raises(DiskSpaceError):
            ingest_recording(
                store,
                spool,
                appliance.config,
                interview_id=interview_id,
                source=io.BytesIO(wav.read_bytes()),
                filename="answer.wav",
                content_type="audio/wav",
                actor="test",
            )
        assert sorted(p.name for p in appliance.config.paths.spool.iterdir()) == before
        assert store.uploads.open_spool_names() == set()
        assert store.recordings.for_interview(interview_id) == []
        # The operator's command says the same, with its own exit code.
        done = appliance.cli("ingest", "--interview", str(interview_id), str(wav))
        assert done.returncode == 49 and "short of disk space" in done.stderr
        # Unfinished uploads are cleared after an hour while the disk is this low.
        assert stale_upload_age_s(appliance.config) == LOW_DISK_STALE_S
    finally:
        store.close()


def test_the_room_keeps_a_quarter_of_the_floor(tmp_path: Path) -> None:
    appliance = make_appliance(tmp_path)
    free = _free(appliance.data_dir)
    # Between a quarter of the floor and the floor: staff uploads stop, answers go on.
    config = appliance.config.model_copy(deep=True)
    config.media.min_free_bytes = int(free * 2)
    with pytest.raises(DiskSpaceError):
        require_free_space(config, 1 << 20)
    require_free_space(config, 1 << 20, room=True)
    config.media.min_free_bytes = 0  # no floor at all
    require_free_space(config, 1 << 20)
    config.media.min_free_bytes = 1 << 20
    assert stale_upload_age_s(config) == config.media.stale_upload_hours * 3600


def test_the_status_page_shows_the_floor(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    make_user(store, "disk.admin", "hr_admin", departments=["*"], regions=["*"])
    client = app.test_client()
    assert login(client, "disk.admin").status_code == 302
    page = client.get("/system/status").get_data(as_text=True)
    assert 'id="disk-free"' in page and "uploads are refused below 2.0 GiB" in page
