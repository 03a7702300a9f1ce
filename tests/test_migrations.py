"""Migrations: explicit, numbered, backup first, all-or-nothing per migration."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.platform.errors import MigrationRequiredError
from appliance.store import Store, migrate
from appliance.store.db import Database, OperationalError
from appliance.store.migrate import Migration, apply, available_migrations, current_version, pending

from .conftest import Appliance
from .support.old_stores import NOW, store_before


def _with_extra(extra: list[Migration]) -> list[Migration]:
    return [*available_migrations(), *extra]


def test_shipped_migrations_are_numbered_and_applied(appliance: Appliance) -> None:
    shipped = available_migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    conn = Database.open(appliance.config.paths.database, appliance.keyset.db).connect()
    assert current_version(conn) == len(shipped)
    assert pending(conn) == []
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "users",
        "requisitions",
        "competency_models",
        "candidates",
        "interviews",
        "recordings",
        "jobs",
        "job_runs",
        "reports",
        "audit_log",
        "workers",
    } <= tables
    conn.close()


def test_new_migration_takes_a_backup_first(
    appliance: Appliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = appliance.config.paths
    extra = Migration(
        len(available_migrations()) + 1,
        "add_notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n"
        "CREATE INDEX notes_body ON notes(body);\n",
    )
    monkeypatch.setattr(migrate, "available_migrations", lambda: _with_extra([extra]))
    database = Database.open(paths.database, appliance.keyset.db)
    conn = database.connect()
    with pytest.raises(MigrationRequiredError, match="run `python -m appliance migrate`"):
        Store(database, Database.open(paths.vault, appliance.keyset.vault))
    applied, backup = apply(database, conn, appliance.keyset.db, paths.backups, keep=5)
    assert [m.name for m in applied] == ["add_notes"]
    assert backup is not None and backup.parent == paths.backups
    assert current_version(conn) == extra.version
    old = Database.open(backup, appliance.keyset.db).connect()
    assert current_version(old) == extra.version - 1
    assert old.execute("SELECT count(*) FROM sqlite_master WHERE name='notes'").fetchone()[0] == 0
    old.close()
    conn.close()


def test_failing_migration_rolls_back(
    appliance: Appliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = appliance.config.paths
    broken = Migration(
        len(available_migrations()) + 1,
        "broken",
        "CREATE TABLE half (x);\nINSERT INTO no_such_table VALUES (1);\n",
    )
    monkeypatch.setattr(migrate, "available_migrations", lambda: _with_extra([broken]))
    database = Database.open(paths.database, appliance.keyset.db)
    conn = database.connect()
    before = current_version(conn)
    with pytest.raises(OperationalError):
        apply(database, conn, appliance.keyset.db, paths.backups, keep=5)
    assert current_version(conn) == before
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='half'").fetchone()[0] == 0
    assert list(paths.backups.glob("appliance-*.db"))  # the backup was taken before trying
    conn.close()


def test_backups_are_pruned_to_the_configured_number(appliance: Appliance) -> None:
    folder = appliance.config.paths.backups
    for i in range(5):
        (folder / f"appliance-2026010{i}T000000.000000Z-v1-pre-migrate.db").write_bytes(b"x")
    removed = migrate.prune_backups(folder, keep=2)
    assert len(removed) == 3 and len(list(folder.glob("appliance-*.db"))) == 2


def test_trigger_bodies_stay_whole() -> None:
    sql = (
        "CREATE TABLE a (x);\nCREATE TRIGGER t BEFORE DELETE ON a\n"
        "BEGIN SELECT RAISE(ABORT, 'no; never'); END;\nCREATE TABLE b (y);\n"
    )
    statements = migrate._statements(sql)
    assert len(statements) == 3 and statements[1].strip().endswith("END;")


@pytest.mark.slow
def test_migrate_command_is_explicit_and_idempotent(appliance: Appliance) -> None:
    result = appliance.cli("migrate")
    assert result.returncode == 0, result.stderr
    assert f"applied 0 migration(s); schema version {len(available_migrations())}" in result.stdout


def test_migration_0022_indexes_report_stamps_over_existing_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = store_before(tmp_path, monkeypatch, 22)
    stamps = next(m for m in old.shipped if m.version == 22)
    assert stamps.name == "report_stamps_index"
    conn = old.conn
    now = NOW
    for n in (1, 2):
        conn.execute(
            "INSERT INTO jobs (kind, max_attempts, run_after, created_at, updated_at)"
            " VALUES ('analyse', 1, ?, ?, ?)",
            (now, now, now),
        )
        conn.execute(
            "INSERT INTO reports (interview_id, job_id, content, created_at)"
            " VALUES (1, ?, '{}', ?)",
            (n, f"2026-01-0{n + 5}T10:00:00.000000Z"),
        )
    applied = old.migrate_to(22, monkeypatch)
    assert [m.version for m in applied] == [22] and current_version(conn) == 22
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"reports_interview", "reports_interview_created"} <= names
    query = "SELECT interview_id, created_at FROM reports WHERE interview_id IN (1, 2)"
    plan = " ".join(str(tuple(row)) for row in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "COVERING INDEX reports_interview_created" in plan
    assert sorted(tuple(row) for row in conn.execute(query)) == [
        (1, "2026-01-06T10:00:00.000000Z"),
        (1, "2026-01-07T10:00:00.000000Z"),
    ]
    conn.close()
