"""The encrypted databases give freed space back and keep their WAL short; the operator sees the
sizes on the status page and can compact a database made before this existed."""

from __future__ import annotations

import os
from typing import Any

from appliance.store import Store
from appliance.store.maintenance import compact, database_figures, tidy
from tests.conftest import Appliance, login, make_user


def _churn(store: Store, megabytes: int) -> None:
    """Write and delete `megabytes` of random data, as upload pieces do."""
    conn = store.conn
    conn.execute("CREATE TABLE IF NOT EXISTS churn (data BLOB)")
    with store.transaction():
        for _ in range(megabytes * 4):
            conn.execute("INSERT INTO churn (data) VALUES (?)", (os.urandom(256 * 1024),))
    with store.transaction():
        conn.execute("DELETE FROM churn")


def test_a_new_database_gives_freed_space_back(appliance: Appliance, store: Store) -> None:
    path = appliance.config.paths.database
    assert database_figures(store.conn, path)["incremental_vacuum"] is True
    _churn(store, 24)
    swollen = database_figures(store.conn, path)
    assert swollen["free_bytes"] >= 20 * 2**20 and swollen["wal_bytes"] > 0
    done = tidy(store.conn)
    tidied = database_figures(store.conn, path)
    assert done["pages_freed"] > 0 and done["checkpoint_blocked"] == 0
    assert tidied["free_bytes"] < swollen["free_bytes"] / 4
    assert tidied["wal_bytes"] == 0
    assert tidied["file_bytes"] < swollen["file_bytes"] - 16 * 2**20


def test_compact_switches_an_old_database_and_shrinks_it(
    appliance: Appliance, store: Store
) -> None:
    conn, path = store.conn, appliance.config.paths.database
    conn.execute("PRAGMA auto_vacuum = NONE")
    conn.execute("VACUUM")  # as a database made before incremental vacuum
    assert database_figures(conn, path)["incremental_vacuum"] is False
    _churn(store, 16)
    tidy(conn)  # cannot give pages back in this mode
    before = database_figures(conn, path)
    assert before["free_bytes"] >= 12 * 2**20
    compact(conn)
    after = database_figures(conn, path)
    assert after["incremental_vacuum"] is True and after["free_bytes"] == 0
    assert after["file_bytes"] < before["file_bytes"] - 12 * 2**20
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_compact_command_refuses_while_the_appliance_runs(appliance: Appliance) -> None:
    from appliance.platform.locks import shared_lock

    with shared_lock(appliance.config.paths.lock):
        running = appliance.cli("compact")
    assert running.returncode != 0 and "stop the appliance" in running.stderr
    done = appliance.cli("compact")
    assert done.returncode == 0, done.stderr
    assert "database:" in done.stdout and "vault:" in done.stdout


def test_the_status_page_shows_database_wal_and_spool_sizes(web: Any) -> None:
    app, store = web
    make_user(store, "ops.admin", "hr_admin")
    client = app.test_client()
    assert login(client, "ops.admin").status_code == 302
    page = client.get("/system/status")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="storage"' in html
    assert "write-ahead log" in html and "Encrypted recordings" in html
    assert 'id="compact-advice"' not in html  # a new database needs no compacting
