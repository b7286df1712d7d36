"""The event store: lifecycle, filters, review, retention oldest first, survival of a restart."""

import sqlite3

import pytest

from svdgan.serve.store import EventStore

pytestmark = pytest.mark.usefixtures("backend")  # each test on SQLite and on PostgreSQL


def _media(store, name, size):
    (store.media / name).write_bytes(b"x" * size)
    return name


def test_lifecycle_filters_and_review_survive_a_restart(tmp_path, backend):
    store = EventStore(tmp_path)
    a = store.open("lobby", 100.0, 1.5, 10)
    store.update_peak(a.id, 2.5, 12)
    store.update_peak(a.id, 2.0, 13)  # lower: the peak stays
    store.close_event(a.id, 105.0, [(99.0, 0.5), (100.0, 1.5)])
    b = store.open("yard", 200.0, 1.2, 3)
    assert store.get(a.id).peak_score == 2.5 and store.get(a.id).peak_frame == 12
    assert [e.id for e in store.list()] == [b.id, a.id]  # newest first
    assert [e.id for e in store.list(camera="lobby")] == [a.id]
    assert [e.id for e in store.list(since=150)] == [b.id] and [e.id for e in store.list(until=150)] == [a.id]
    assert store.set_reviewed(a.id) and not store.set_reviewed(999)
    assert [e.id for e in store.list(reviewed=True)] == [a.id] and [e.id for e in store.list(reviewed=False)] == [b.id]
    store.close()

    again = EventStore(tmp_path)  # a restart: the open event was cut off by the crash and is closed
    assert again.get(a.id).reviewed and again.get(a.id).curve == [[99.0, 0.5], [100.0, 1.5]]
    assert again.get(b.id).end == 200.0
    if backend == "sqlite":
        assert sqlite3.connect(tmp_path / "events.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.engine.dialect.name == backend


def test_media_paths_come_from_the_database(tmp_path):
    store = EventStore(tmp_path)
    e = store.open("lobby", 1.0, 2.0, 0)
    assert store.media_path(e.id, "clip") is None
    store.set_media(e.id, "clip", _media(store, f"event_{e.id}.webm", 300))
    store.set_media(e.id, "snapshot", _media(store, f"event_{e.id}.jpg", 100))
    assert store.media_path(e.id, "clip") == store.media / f"event_{e.id}.webm"
    assert store.get(e.id).bytes == 400


def test_retention_deletes_oldest_first_by_age_size_of_the_whole_folder_and_free_space(tmp_path):
    store = EventStore(tmp_path)
    ids = []
    for k in range(5):
        e = store.open("cam", 1000.0 + k, 2.0, 0)
        store.set_media(e.id, "clip", _media(store, f"event_{e.id}.webm", 200_000))
        store.close_event(e.id, 1000.5 + k)
        ids.append(e.id)
    still_open = store.open("cam", 900.0, 2.0, 0)  # open events are never deleted
    assert store.enforce_retention(max_age_s=10, now=1010.5) == 1  # only the first is older than 10 s
    assert store.get(ids[0]) is None and not (store.media / f"event_{ids[0]}.webm").exists()
    total = store.folder_bytes()  # the four clips and, on SQLite, the database and its WAL
    assert total >= 800_000
    assert store.enforce_retention(max_bytes=total - 350_000) == 2  # two clips go to get under the bound
    assert [e.id for e in store.list()] == [ids[4], ids[3], still_open.id]
    assert sorted(p.name for p in store.media.iterdir()) == [f"event_{ids[3]}.webm", f"event_{ids[4]}.webm"]
    assert store.folder_bytes() <= total - 350_000
    assert store.enforce_retention(min_free_bytes=100, free_bytes=lambda: 50) == 2  # a full disk: all closed go
    assert [e.id for e in store.list()] == [still_open.id]
