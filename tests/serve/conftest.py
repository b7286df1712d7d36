"""Every serve test that keeps events runs on both databases: SQLite in its storage folder, and
PostgreSQL (a schema of its own per storage folder, so a restart on the same folder finds its rows).
PostgreSQL comes from $SVDGAN_TEST_POSTGRES (`.ci/postgres` starts one and prints its URL); without
it those tests are skipped here, and CI, which always has it, runs them."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from svdgan.serve import database

POSTGRES = os.environ.get("SVDGAN_TEST_POSTGRES")


def schema_url(folder: Path) -> str:
    """A PostgreSQL URL whose tables are in a schema named after `folder` (created if missing)."""
    assert POSTGRES is not None
    schema = "t_" + hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:20]
    admin = sa.create_engine(database.url_for(Path(), POSTGRES), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    admin.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch) -> str:
    """'sqlite' or 'postgresql': which database every EventStore of the test opens by default."""
    if request.param == "postgresql":
        if POSTGRES is None:
            pytest.skip("no PostgreSQL: export SVDGAN_TEST_POSTGRES=$(bash .ci/postgres)")
        given = database.url_for
        monkeypatch.setattr(database, "url_for", lambda folder, url=None: given(
            folder, schema_url(folder) if url is None else url))
    return request.param


def store_url(backend: str, folder: Path) -> str | None:
    """The --db a subprocess of the test passes for `folder` (None: SQLite)."""
    return schema_url(folder) if backend == "postgresql" else None


def lock_database(store):
    """Another process's lock on the store's events (SQLite: the whole file; PostgreSQL: writes to the
    table, reads go on). Returns a function that releases it."""
    if store.postgres:
        blocker = store.engine.connect()  # the store's own URL (its schema), a connection of its own
        blocker.execute(sa.text("LOCK TABLE events IN EXCLUSIVE MODE"))

        def release():
            blocker.commit()
            blocker.close()
    else:
        import sqlite3

        blocker = sqlite3.connect(store.folder / "events.db", isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN EXCLUSIVE")

        def release():
            blocker.execute("COMMIT")
            blocker.close()
    return release


@pytest.fixture
def broker(tmp_path):
    """A Mosquitto broker of the test's own on a free loopback port (anonymous); yields the port."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.fail("mosquitto is needed (apt-get install mosquitto)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    process = subprocess.Popen([binary, "-c", str(tmp_path / "m.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _listening(port):
        assert time.monotonic() < deadline, "mosquitto did not start"
        time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
