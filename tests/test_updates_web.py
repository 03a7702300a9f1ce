"""The administrators' Updates page over a real store, a real install root made by `update init`'s
code and real bundles signed with vendor keys: the status in words, staging through the page
(the updater's own checks), refusals, the size limit, CSRF, and a box without update slots."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import appliance
from appliance.platform.scratch import scratch_root
from appliance.store import Store
from firmware.slots import Install, Journal
from firmware.updater import ROOT_ENV, stage_for
from tests.support.update_bundles import Vendor, build, install_root, make_vendor, tampered
from webui.views import updates

from .conftest import Appliance, csrf_token_from, login, make_user

Web = tuple[Flask, Store]
PAGE = "/admin/updates"
STAGE = "/admin/updates/stage"
OTHER_ROLES = ("recruiter", "interviewer", "business_lead", "tech_expert", "auditor", "service")


@pytest.fixture
def vendor(tmp_path: Path) -> Vendor:
    return make_vendor(tmp_path / "vendor")


@pytest.fixture
def install(
    appliance: Appliance, vendor: Vendor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Install:
    root = tmp_path / "install"
    made = install_root(root, vendor, appliance.config, appliance.keyset, appliance.passphrase)
    monkeypatch.setenv(ROOT_ENV, str(root))
    return made


def _client(web: Web, role: str = "hr_admin") -> FlaskClient:
    app, store = web
    make_user(store, f"upd.{role}", role, departments=["*"], regions=["*"])
    client = app.test_client()
    assert login(client, f"upd.{role}").status_code == 302
    return client


def _text(body: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _post(client: FlaskClient, bundle: Path | None, *, token: bool = True) -> Any:
    data: dict[str, Any] = {}
    if token:
        data["csrf_token"] = csrf_token_from(client.get(PAGE).get_data(as_text=True))
    if bundle is not None:
        data["bundle"] = (bundle.open("rb"), bundle.name)
    return client.post(STAGE, data=data, content_type="multipart/form-data")


def _uploads_left(appliance: Appliance) -> list[str]:
    root = scratch_root(appliance.config.data_dir)
    return [p.name for p in root.glob(f"{updates.SCRATCH_LABEL}-*")] if root.is_dir() else []


def _nothing_staged(install: Install) -> None:
    assert install.read_journal().state == "idle"
    assert install.slot_version("b") is None
    assert list(install.slot_dir("b").iterdir()) == []


def _entries(store: Store, action: str) -> list[Any]:
    return store.audit.entries(action=action, limit=1000)


# --- the status -------------------------------------------------------------------------------


def test_an_administrator_reads_the_status_in_words(web: Web, install: Install) -> None:
    reply = _client(web).get(PAGE)
    assert reply.status_code == 200
    text = _text(reply.get_data(as_text=True))
    assert f"Version {appliance.__version__}, from slot a." in text
    assert "Slot b is empty." in text
    assert "Nothing is staged." in text
    assert "The update slots were set up on" in text
    assert f"0 (recorded with version {appliance.__version__} on 20" in text
    assert "Its signature by this appliance's device key verifies." in text
    assert "at least 2 of these 3 keys" in text
    keys = re.findall(r"(k\d): [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}", text)
    assert keys == ["k1", "k2", "k3"]
    assert "an unknown time" not in text
    assert "No backup has been taken for an update yet." in text
    assert "There is nothing to roll back to" in text
    # The upload form, and no internal words.
    assert 'id="stage-form"' in reply.get_data(as_text=True)
    for internal in (
        "None",
        "null",
        "idle",
        "signature_verified",
        "journal",
        "{",
        "updates.manage",
    ):
        assert internal not in text, internal


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_only_administrators_may_open_it(
    web: Web,
    install: Install,
    vendor: Vendor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    role: str,
) -> None:
    scratches: list[str] = []
    monkeypatch.setattr(updates, "make_scratch", lambda *args: scratches.append("made"))
    client = _client(web, role)
    reply = client.get(PAGE)
    assert reply.status_code == 403
    assert "manage software updates" in _text(reply.get_data(as_text=True))
    token = csrf_token_from(reply.get_data(as_text=True))
    bundle = build(vendor, tmp_path / "b.tar.gz")
    posted = client.post(
        STAGE,
        data={"csrf_token": token, "bundle": (bundle.open("rb"), bundle.name)},
        content_type="multipart/form-data",
    )
    assert posted.status_code == 403
    assert scratches == []  # nothing of theirs is written to the box's scratch
    _nothing_staged(install)


def test_an_interrupted_update_says_what_to_run(web: Web, install: Install) -> None:
    journal = install.read_journal()
    install.write_journal(
        Journal(
            state="transition",
            kind="apply",
            step="changing-data",
            slot="b",
            from_slot="a",
            version="1.4.0",
            from_version=appliance.__version__,
            history=journal.history,
        )
    )
    body = _client(web).get(PAGE).get_data(as_text=True)
    text = _text(body)
    assert (
        "An update to 1.4.0 was interrupted while the data was being migrated: run "
        "“update recover” with the appliance stopped." in text
    )
    recover = re.search(r'<textarea id="recover-commands"[^>]*>(.*?)</textarea>', body, re.S)
    assert recover is not None
    lines = html.unescape(recover.group(1)).splitlines()
    assert lines[0] == "systemctl stop appliance" and lines[2] == "systemctl start appliance"
    assert " -m appliance update recover --data-dir " in lines[1]
    assert 'id="stage-form"' not in body  # no staging over an interrupted update


def test_an_interrupted_stage_can_be_staged_again(web: Web, install: Install) -> None:
    install.write_journal(Journal(state="staging", slot="b", from_slot="a", version="0.2.0"))
    body = _client(web).get(PAGE).get_data(as_text=True)
    assert "Staging version 0.2.0 was interrupted: stage the bundle again" in _text(body)
    assert 'id="stage-form"' in body and 'id="recover-commands"' in body


def test_a_rollback_across_a_schema_change_warns_and_restores(web: Web, install: Install) -> None:
    (install.slot_dir("b") / "VERSION").write_text("0.0.9\n")
    last = {
        "result": "applied",
        "version": appliance.__version__,
        "slot": "a",
        "previous_version": "0.0.9",
        "previous_slot": "b",
        "backup": "/data/backups/update/backup-20260101T000000.000000Z",
        "schema_before": 5,
        "schema_after": 6,
        "at": "2026-01-01T00:00:00.000000Z",
        "counter": 3,
    }
    install.write_journal(Journal(last=last, outcome=last))
    body = _client(web).get(PAGE).get_data(as_text=True)
    text = _text(body)
    assert f"The last update, from 0.0.9 to {appliance.__version__}, was applied on" in text
    assert "Rollback goes back to version 0.0.9" in text
    assert "backup-20260101T000000.000000Z" in text and "no longer in the database" in text
    assert "update rollback --restore-backup --data-dir" in body
    assert "Staging overwrites version 0.0.9 in slot b" in text


# --- staging through the page -----------------------------------------------------------------


def test_a_good_bundle_is_staged_through_the_page(
    web: Web,
    install: Install,
    vendor: Vendor,
    appliance: Appliance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, store = web
    # The page's own limit applies, not the app's (a recording piece's) one.
    app.config["MAX_CONTENT_LENGTH"] = 1024
    given: list[Path] = []
    real = stage_for

    def spy(box: Any, bundle: Path, actor: str, *, name: str) -> Any:
        given.append(bundle)
        assert bundle.is_file()
        return real(box, bundle, actor, name=name)

    monkeypatch.setattr(updates, "stage_for", spy)
    client = _client(web)
    reply = _post(client, build(vendor, tmp_path / "appliance-0.2.0.tar.gz"))
    assert reply.status_code == 303, _text(reply.get_data(as_text=True))
    # Written into the box's private scratch (never /tmp), and gone afterwards.
    assert given[0].is_relative_to(scratch_root(appliance.config.data_dir))
    assert given[0].name == "appliance-0.2.0.tar.gz"
    assert _uploads_left(appliance) == []

    journal = install.read_journal()
    assert (journal.state, journal.version, journal.slot) == ("staged", "0.2.0", "b")
    assert install.slot_version("b") == "0.2.0"
    page = client.get(reply.headers["Location"])
    body = page.get_data(as_text=True)
    text = _text(body)
    assert "Version 0.2.0 was checked and staged in slot b." in text
    assert "Version 0.2.0 is staged but not installed yet" in text
    assert "Slot b holds version 0.2.0." in text
    commands = re.search(r'<textarea id="apply-commands"[^>]*>(.*?)</textarea>', body, re.S)
    assert commands is not None
    lines = html.unescape(commands.group(1)).splitlines()
    assert lines[0] == "systemctl stop appliance"
    assert f"cd {install.current} && " in lines[1]
    assert f"-m appliance update apply --data-dir {appliance.config.data_dir}" in lines[1]
    assert f"--root {install.root}" in lines[1]
    assert lines[2] == "systemctl start appliance"
    assert "If the backup, a migration or the new version's health check fails" in text
    assert "None" not in text

    # Who staged what: the person's entry beside the updater's own.
    (asked,) = _entries(store, "update.stage_requested")
    assert asked.actor.startswith("user:")
    assert asked.details["result"] == "staged" and asked.details["version"] == "0.2.0"
    assert asked.details["bundle"] == "appliance-0.2.0.tar.gz"
    (staged,) = _entries(store, "update.staged")
    assert staged.actor == "update"
    assert staged.details["bundle_sha256"] == asked.details["sha256"]


def test_a_tampered_bundle_is_refused_with_its_reason(
    web: Web, install: Install, vendor: Vendor, appliance: Appliance, tmp_path: Path
) -> None:
    _, store = web
    bundle = tampered(build(vendor, tmp_path / "good.tar.gz"), tmp_path / "evil.tar.gz")
    reply = _post(_client(web), bundle)
    assert reply.status_code == 422
    body = reply.get_data(as_text=True)
    text = _text(body)
    assert (
        "The bundle was refused and nothing changed: webui/static.css does not match its "
        "SHA-256 or size (altered)" in text
    )
    assert str(scratch_root(appliance.config.data_dir)) not in body
    _nothing_staged(install)
    assert _uploads_left(appliance) == []
    (asked,) = _entries(store, "update.stage_requested")
    assert asked.details["result"] == "refused" and "altered" in asked.details["reason"]
    assert _entries(store, "update.refused")


def test_a_bundle_under_the_threshold_is_refused(
    web: Web, install: Install, vendor: Vendor, tmp_path: Path
) -> None:
    reply = _post(_client(web), build(vendor, tmp_path / "one.tar.gz", signers=1))
    assert reply.status_code == 422
    assert "signed by 1 distinct trusted key(s); 2 are needed" in _text(
        reply.get_data(as_text=True)
    )
    _nothing_staged(install)


def test_a_huge_upload_is_refused(
    web: Web,
    install: Install,
    appliance: Appliance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(updates, "UPLOAD_LIMIT_BYTES", 100 << 10)
    client = _client(web)
    huge = tmp_path / "huge.tar.gz"
    huge.write_bytes(b"\x1f\x8b" + b"x" * (400 << 10))
    assert _post(client, huge).status_code == 413  # refused as the body arrives
    just_over = tmp_path / "over.tar.gz"
    just_over.write_bytes(b"x" * ((100 << 10) + 1))
    reply = _post(client, just_over)
    assert reply.status_code == 413
    assert "stage it from the command line" in _text(reply.get_data(as_text=True))
    _nothing_staged(install)
    assert _uploads_left(appliance) == []


def test_staging_needs_the_csrf_token(
    web: Web, install: Install, vendor: Vendor, tmp_path: Path
) -> None:
    reply = _post(_client(web), build(vendor, tmp_path / "b.tar.gz"), token=False)
    assert reply.status_code == 400
    _nothing_staged(install)


def test_a_post_without_a_file_says_so(web: Web, install: Install) -> None:
    reply = _post(_client(web), None)
    assert reply.status_code == 422
    assert "Choose an update bundle to upload." in _text(reply.get_data(as_text=True))


def test_a_root_the_service_may_not_write_shows_the_command(
    web: Web,
    install: Install,
    vendor: Vendor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(updates, "_writable", lambda install, other: False)
    client = _client(web)
    body = client.get(PAGE).get_data(as_text=True)
    assert 'id="stage-form"' not in body
    assert "update stage BUNDLE.tar.gz --data-dir" in body
    assert "may not write to the install root" in _text(body)

    def refused(self: Install) -> Any:
        raise PermissionError(13, "Permission denied", str(self.lock_path))

    monkeypatch.setattr(Install, "locked", refused)
    reply = _post(client, build(vendor, tmp_path / "b.tar.gz"))
    assert reply.status_code == 409
    text = _text(reply.get_data(as_text=True))
    assert f"may not write to the install root {install.root}" in text
    assert "Errno" not in text


# --- a box without update slots ---------------------------------------------------------------


def test_a_box_without_update_slots_explains_how_to_set_them_up(
    web: Web, vendor: Vendor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "no-root"))
    client = _client(web)
    reply = client.get(PAGE)
    assert reply.status_code == 200
    body = reply.get_data(as_text=True)
    text = _text(body)
    assert "This appliance was installed without update slots" in text
    assert "update init --trusted-keys FILE" in text and f"--root {tmp_path / 'no-root'}" in text
    assert "docs/updates.md" in text
    assert 'id="stage-form"' not in body and "None" not in text
    staged = _post(client, build(vendor, tmp_path / "b.tar.gz"))
    assert staged.status_code == 409
    assert not (tmp_path / "no-root").exists()
