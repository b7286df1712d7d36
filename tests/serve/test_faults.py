"""`svdgan serve` keeps watching through faults: media that cannot be written, a locked database, a full
disk, a camera that goes away for a minute; and a second server on one storage folder is refused."""

import contextlib
import errno
import os
import shutil
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from svdgan.cli import main
from svdgan.serve import lock_storage
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.database import WAL_LIMIT_BYTES
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.serve.web import create_app
from svdgan.sources.video import CaptureSource

from .conftest import lock_database
from .test_serve import LOCAL, SIZE, camera_model  # noqa: F401 (a fixture)
from .test_serve_live import LiveScene, free_port

pytestmark = pytest.mark.usefixtures("backend")  # each test on SQLite and on PostgreSQL


def wait_for(condition, seconds=30.0, what="the condition"):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def two_cameras(camera_model, tmp_path):  # noqa: F811
    """The engine over two paced cameras ('lobby' gets the anomalies), and a client of its API."""
    cameras = [CameraConfig(name, "scene", threshold=1.5, min_frames=2, checkpoint=str(camera_model))
               for name in ("lobby", "yard")]
    config = ServeConfig(cameras, storage=str(tmp_path / "storage"), pre_seconds=0.2, post_seconds=0.2)
    scenes = {name: LiveScene(name) for name in ("lobby", "yard")}
    engine = Engine(config, EventStore(tmp_path / "storage"), sources=scenes)
    engine.start()
    yield engine, scenes["lobby"], TestClient(create_app(engine), base_url=LOCAL)
    for scene in scenes.values():
        scene.stopped.set()
    engine.stop()


def frames(client):
    return {s["camera"]: s["frames"] for s in client.get("/api/stats").json()["cameras"]}


def event_after(engine, scene, known: int):
    """Inject an anomaly and wait for its event to end (and its row to be written)."""
    scene.inject(12)
    wait_for(lambda: engine.store.list(limit=1000) and len(engine.store.list(limit=1000)) > known
             and engine.store.list(limit=1)[0].end is not None and engine.cameras["lobby"].recorder.clip is None,
             what="an event")
    return engine.store.list(limit=1)[0]


def test_media_folder_replaced_by_a_file_loses_only_that_media_and_recording_resumes(two_cameras):
    engine, lobby, client = two_cameras
    first = event_after(engine, lobby, 0)
    assert first.snapshot and first.media_error is None
    media = engine.store.media
    media.rename(media.with_name("media_away"))
    media.write_text("not a folder")  # root ignores permission bits: a file where the folder was
    before = frames(client)
    broken = event_after(engine, lobby, 1)
    assert broken.snapshot is None and "not saved" in broken.media_error  # the row, with the reason
    faults = client.get("/api/stats").json()["faults"]
    assert faults["snapshots"]["lost"] >= 1 and faults["clips"]["count"] >= 1
    after = frames(client)
    assert all(after[c] > before[c] for c in ("lobby", "yard"))  # scoring went on, on every camera
    media.unlink()
    media.with_name("media_away").rename(media)
    fixed = event_after(engine, lobby, 2)
    assert fixed.snapshot and fixed.clip and client.get("/api/stats").json()["faults"] == {}


def test_a_database_locked_for_10_s_delays_the_rows_and_loses_none(two_cameras):
    engine, lobby, client = two_cameras
    release = lock_database(engine.store)
    released = threading.Event()

    def release_later():
        time.sleep(10)
        release()
        released.set()

    threading.Thread(target=release_later, daemon=True).start()
    before = frames(client)
    lobby.inject(12)
    wait_for(lambda: "database" in client.get("/api/stats").json()["faults"], what="the database fault")
    time.sleep(2)
    after = frames(client)
    assert all(after[c] > before[c] + 10 for c in ("lobby", "yard"))  # still scoring while locked
    assert not released.is_set()
    wait_for(released.is_set, 20, "the lock's release")
    wait_for(lambda: engine.store.list(limit=5) and engine.store.list(limit=1)[0].end is not None, 20,
             "the delayed row")
    wait_for(lambda: "database" not in client.get("/api/stats").json()["faults"], 10, "the fault to clear")
    assert engine.store.list(limit=1)[0].snapshot is not None


def test_while_the_database_fails_an_events_newer_touch_replaces_its_waiting_one(camera_model, tmp_path):  # noqa: F811
    config = ServeConfig([CameraConfig("lobby", "scene", checkpoint=str(camera_model))], storage=str(tmp_path / "s"))
    store = EventStore(tmp_path / "s")
    engine = Engine(config, store, sources={"lobby": LiveScene("lobby")})  # not started: no thread writes
    engine._retry_writes_at = time.monotonic() + 3600  # as after a failed write: everything waits
    first, second = store.reserve_id(), store.reserve_id()
    engine._write(store.open, "lobby", 1.0, 2.0, 0, first, None)
    engine._write(store.open, "lobby", 1.5, 2.0, 0, second, None)
    for t in range(2, 600):  # ten minutes of one touch a second for each
        engine._write(store.touch, first, float(t), float(t), t, None)
        engine._write(store.touch, second, float(t), 1.0, 3, None)
    engine._write(store.close_event, first, 600.0, [])
    assert [(w.__name__, a[0] if w != store.open else a[4]) for w, a in engine._writes] == [
        ("open", first), ("open", second), ("touch", first), ("touch", second), ("close_event", first)]
    engine._retry_writes_at = 0.0
    engine._flush_writes()  # the database is back: every row as the last touch left it
    rows = {e.id: e for e in store.list(limit=10)}
    assert (rows[first].peak_score, rows[first].end) == (599.0, 600.0) and rows[second].end is None
    assert not engine._writes
    store.close()


class Door:
    """A camera that can be unplugged: while down it neither opens nor delivers frames."""

    def __init__(self):
        self.down = threading.Event()
        self.rng = np.random.default_rng(0)

    def open(self):
        return None if self.down.is_set() else self

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return not self.down.is_set()

    def get(self, prop):
        return 20.0

    def read(self):
        time.sleep(0.05)
        if self.down.is_set():
            return False, None
        return True, np.clip(110 + self.rng.normal(0, 2, (SIZE[1], SIZE[0], 3)), 0, 255).astype(np.uint8)

    def release(self):
        pass


def test_a_camera_down_for_60_s_shows_reconnecting_and_is_scored_within_10_s_of_coming_back(
        camera_model, tmp_path, capsys):  # noqa: F811
    door = Door()
    source = CaptureSource("rtsp://admin:hunter2@door/1", door.open, live=True)
    config = ServeConfig([CameraConfig("door", "rtsp://door/1", checkpoint=str(camera_model))],
                         storage=str(tmp_path / "storage"))
    engine = Engine(config, EventStore(tmp_path / "storage"), sources={"door": source})
    client = TestClient(create_app(engine), base_url=LOCAL)
    engine.start()
    try:
        wait_for(lambda: frames(client)["door"] > 5, what="first frames")
        door.down.set()
        wait_for(lambda: client.get("/api/stats").json()["cameras"][0]["state"] == "reconnecting", 10)
        time.sleep(60)
        health = client.get("/api/stats").json()["cameras"][0]
        assert health["state"] == "reconnecting" and time.time() - health["since"] >= 59 and health["fps"] == 0
        down_frames = health["frames"]
        door.down.clear()
        back = time.monotonic()
        wait_for(lambda: frames(client)["door"] > down_frames, 10, "frames within 10 s of the camera's return")
        assert time.monotonic() - back <= 10
        assert client.get("/api/stats").json()["cameras"][0]["state"] == "ok"
    finally:
        engine.stop()
    assert "hunter2" not in capsys.readouterr().err  # credentials are never printed


def test_a_second_server_on_one_storage_folder_exits_2_with_one_line(tmp_path, capsys):
    held = lock_storage(tmp_path / "storage")
    try:
        assert main(["serve", "--storage", str(tmp_path / "storage"), "--port", str(free_port())]) == 2
    finally:
        held.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "in use by another svdgan serve (pid" in err[0]


def test_retention_keeps_the_folder_within_max_mb_plus_one_clip_through_an_event_longer_than_the_cap(
        camera_model, tmp_path, monkeypatch):  # noqa: F811
    import svdgan.serve.engine as engine_module

    monkeypatch.setattr(engine_module, "RETENTION_EVERY_S", 0.2)
    config = ServeConfig([CameraConfig("lobby", "scene", threshold=1.5, min_frames=2, checkpoint=str(camera_model))],
                         storage=str(tmp_path / "storage"), pre_seconds=0.2, post_seconds=0.2,
                         max_event_seconds=1.0)
    scene = LiveScene("lobby")
    engine = Engine(config, EventStore(tmp_path / "storage"), sources={"lobby": scene})
    engine.start()
    sizes, largest_clip = [], 0
    try:
        wait_for(lambda: engine.cameras["lobby"].frames > 5, what="first frames")
        bound = (engine.store.folder_bytes() + 40_000) / 2**20  # MB: the database now and room for a few clips
        engine.config.max_mb = bound
        scene.inject(300)  # 15 s of anomaly at 20 frames/s: split into events of 1 s
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and (scene._inject > 0 or engine.cameras["lobby"].event_id is not None):
            sizes.append(engine.store.folder_bytes())
            clips = [p.stat().st_size for p in engine.store.media.glob("*.webm") if p.exists()]
            largest_clip = max([largest_clip, *clips])
            time.sleep(0.05)
    finally:
        scene.stopped.set()
        engine.stop()
    events = engine.store.list(limit=1000)
    assert events and events[0].id >= 5 and engine.store.get(1) is None  # split into many, the oldest deleted
    assert all(e.end - e.start <= 1.5 for e in events)  # each capped (the last frame's arrival rounds up)
    assert events[0].id - len(events) >= 5  # retention deleted the oldest all along
    media = sum(p.stat().st_size for p in engine.store.media.iterdir())
    assert media <= 40_000 + largest_clip
    # never over by more than one clip being written and the database's log since its last checkpoint
    assert max(sizes) <= bound * 2**20 + largest_clip + WAL_LIMIT_BYTES


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB filesystem of its own (tmpfs; the tests run as root), or None where none can be mounted."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_really_full_disk_keeps_scoring_and_every_event_row_and_recording_resumes_when_freed(
        camera_model, small_disk, tmp_path, monkeypatch):  # noqa: F811
    if small_disk is None:  # no filesystem to fill here: writes fail with ENOSPC at the recorder's file layer
        import svdgan.serve.engine as engine_module

        monkeypatch.setattr(engine_module, "snapshot", lambda path, item: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    storage = small_disk or tmp_path / "storage"
    cameras = [CameraConfig(name, "scene", threshold=1.5, min_frames=2, checkpoint=str(camera_model))
               for name in ("lobby", "yard")]
    config = ServeConfig(cameras, storage=str(storage), pre_seconds=0.2, post_seconds=0.2, min_free_mb=0)
    scenes = {name: LiveScene(name) for name in ("lobby", "yard")}
    engine = Engine(config, EventStore(storage), sources=scenes)
    client = TestClient(create_app(engine), base_url=LOCAL)
    engine.start()
    filler = storage / "filler"
    try:
        wait_for(lambda: frames(client)["yard"] > 5, what="first frames")
        if small_disk is not None:
            with open(filler, "wb") as f:  # fill the disk to the last byte
                with contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
        before, full_ids = frames(client), []
        for _ in range(2):  # two events while the disk is full
            scenes["lobby"].inject(12)
            wait_for(lambda: engine.cameras["lobby"].event_id is not None, what="an event")
            full_ids.append(engine.cameras["lobby"].event_id)
            wait_for(lambda: engine.cameras["lobby"].event_id is None, what="its end")
        faults = client.get("/api/stats").json()["faults"]
        assert "snapshots" in faults and faults["snapshots"]["lost"] >= 2
        after = frames(client)
        assert all(after[c] > before[c] + 10 for c in ("lobby", "yard"))  # scoring went on
        filler.unlink(missing_ok=True)
        monkeypatch.undo()
        scenes["lobby"].inject(12)
        wait_for(lambda: engine.cameras["lobby"].event_id is not None, what="an event after the disk is freed")
        freed_id = engine.cameras["lobby"].event_id
        wait_for(lambda: engine.cameras["lobby"].event_id is None and engine.cameras["lobby"].recorder.clip is None,
                 what="its end")
        wait_for(lambda: all(engine.store.get(i) is not None and engine.store.get(i).end is not None
                             for i in [*full_ids, freed_id]), 15, "every row, the delayed ones too")
        for event_id in full_ids:
            assert "not saved" in engine.store.get(event_id).media_error  # the reason, recorded
        freed = engine.store.get(freed_id)
        assert freed.snapshot is not None and freed.media_error is None  # recording resumed
        wait_for(lambda: "snapshots" not in client.get("/api/stats").json()["faults"], 10, "the fault to clear")
    finally:
        for scene in scenes.values():
            scene.stopped.set()
        engine.stop()
        engine.store.close()


def test_the_soak_fills_a_real_disk_to_its_last_byte_without_failing_itself(small_disk):
    from benchmarks.soak import fill_disk

    if small_disk is None:
        pytest.skip("no filesystem of its own can be mounted here")
    for _ in range(2):  # a second fill of a full disk writes nothing and fails nothing
        filler = fill_disk(small_disk, cap_mb=8)
    assert filler.stat().st_size > 1.5 * 2**20 and shutil.disk_usage(small_disk).free < 64 * 1024
