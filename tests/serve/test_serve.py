"""`svdgan serve` without a browser: config, binding rules, the scoring engine's events, the HTTP API
and its security. (The page in a real browser and MQTT have their own tests.)"""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from svdgan.cli import main
from svdgan.serve import check_binding
from svdgan.serve.config import CameraConfig, ServeConfig, load_serve_config
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.serve.web import create_app
from svdgan.sources.video import Frame, Source

from ..conftest import TINY, write_frame_folder

pytestmark = pytest.mark.usefixtures("backend")  # each test on SQLite and on PostgreSQL

SIZE = (40, 32)
LOCAL = "http://127.0.0.1:8080"  # a loopback Host: the only kind a server without allowed_hosts answers
TOKEN = "a-test-token-of-24-bytes"


def scene(n, square_from=None, square_to=None, seed=0):
    """Grey frames with mild noise; a bright square crosses them between square_from and square_to."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(n):
        image = np.clip(110 + rng.normal(0, 2, (SIZE[1], SIZE[0], 3)), 0, 255).astype(np.uint8)
        if square_from is not None and square_from <= t < square_to:
            x = 2 + 2 * (t - square_from)
            image[8:24, x:x + 14] = 250
        frames.append(image)
    return frames


class ScriptedSource(Source):
    live = False
    fps = 10.0

    def __init__(self, name, frames):
        self.name, self.images = name, frames

    def frames(self):
        for i, image in enumerate(self.images):
            yield Frame(i, i / self.fps, image)


@pytest.fixture(scope="module")
def camera_model(tmp_path_factory, synthetic_dataset):
    """A tiny model, calibrated on this 'camera's' normal footage (`svdgan calibrate`)."""
    root = tmp_path_factory.mktemp("serve")
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(root / "run"), "--config", str(TINY),
                 "--quiet"]) == 0
    write_frame_folder(root / "normal" / "01", scene(40, seed=1), ext="png")
    assert main(["calibrate", "--checkpoint", str(root / "run" / "checkpoint.pt"), "--data", str(root / "normal"),
                 "--out", str(root / "cam.pt"), "--quiet"]) == 0
    return root / "cam.pt"


@pytest.fixture(scope="module")
def served(camera_model, tmp_path_factory):
    """The engine run over two cameras' scripted footage: one event on 'lobby', none on 'yard'."""
    storage = tmp_path_factory.mktemp("storage")
    config = ServeConfig([CameraConfig("lobby", "scripted", threshold=1.5, min_frames=2, checkpoint=str(camera_model)),
                          CameraConfig("yard", "scripted", threshold=1.5, min_frames=2, checkpoint=str(camera_model))],
                         storage=str(storage), pre_seconds=0.5, post_seconds=0.5)
    messages = []
    store = EventStore(storage)
    engine = Engine(config, store, lambda cam, kind, payload: messages.append(payload),
                    sources={"lobby": ScriptedSource("lobby", scene(60, 25, 37)),
                             "yard": ScriptedSource("yard", scene(60, seed=2))})
    engine.start()
    engine.join(60)
    engine.stop()
    return engine, messages


def test_engine_opens_and_closes_one_event_with_snapshot_clip_and_messages(served):
    engine, messages = served
    events = engine.store.list()
    assert [e.camera for e in events] == ["lobby"]
    event = events[0]
    assert event.end is not None and event.end >= event.start and event.peak_score > 1.5
    assert 25 <= event.peak_frame < 37 and event.clip == f"event_{event.id}.webm" and event.bytes > 0
    assert engine.store.media_path(event.id, "clip").stat().st_size > 0
    assert engine.store.media_path(event.id, "snapshot") is not None and len(event.curve) > 5
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "new" and kinds[-1] == "end" and {m["id"] for m in messages} == {event.id}
    assert not list(engine.store.media.glob(".*partial*"))
    health = {h["camera"]: h for h in (c.health() for c in engine.cameras.values())}
    assert health["lobby"]["frames"] == health["yard"]["frames"] == 60 and health["yard"]["latency_ms_p99"] > 0


def test_http_api_serves_events_media_review_and_openapi(served):
    engine, _ = served
    client = TestClient(create_app(engine), base_url=LOCAL)
    event = client.get("/api/events").json()[0]
    assert client.get("/api/events", params={"camera": "yard"}).json() == []
    assert client.get(f"/api/events/{event['id']}").json()["curve"]
    clip = client.get(f"/api/events/{event['id']}/clip")
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/webm" and len(clip.content) > 100
    assert client.get(f"/api/events/{event['id']}/snapshot").content[:2] == b"\xff\xd8"
    assert client.post(f"/api/events/{event['id']}/review", json={"reviewed": True}).json()["reviewed"]
    assert client.get("/api/events", params={"reviewed": "true"}).json()[0]["id"] == event["id"]
    stats = client.get("/api/stats").json()["cameras"]
    assert {s["camera"] for s in stats} == {"lobby", "yard"} and all(s["frames"] == 60 for s in stats)
    assert client.get("/api/cameras/lobby/frame.jpg").content[:2] == b"\xff\xd8"
    live = client.get("/api/cameras/lobby/live.mjpg", params={"frames": 2})
    assert live.content.count(b"--svdganframe") == 2
    assert "/api/events/{event_id}/clip" in client.get("/openapi.json").json()["paths"]
    assert "<title>svdgan</title>" in client.get("/").text


def test_an_event_says_why_and_where_in_its_row_snapshot_messages_and_api(camera_model, tmp_path):
    """With a memory of normal motion, the event's peak frame says what was unusual and where."""
    write_frame_folder(tmp_path / "normal" / "01", scene(40, seed=1), ext="png")
    write_frame_folder(tmp_path / "normal" / "02", scene(40, seed=3), ext="png")
    model = tmp_path / "memory.pt"
    assert main(["calibrate", "--checkpoint", str(camera_model), "--data", str(tmp_path / "normal"), "--out",
                 str(model), "--set", "memory.enabled=true", "--set", "memory.height=32", "--set", "memory.cell=8",
                 "--quiet"]) == 0
    config = ServeConfig([CameraConfig("lobby", "scripted", threshold=1.5, min_frames=2, checkpoint=str(model))],
                         storage=str(tmp_path / "storage"), pre_seconds=0.5, post_seconds=0.5)
    messages = []
    engine = Engine(config, EventStore(tmp_path / "storage"), lambda cam, kind, payload: messages.append(payload),
                    sources={"lobby": ScriptedSource("lobby", scene(60, 25, 37))})
    engine.start()
    engine.join(60)
    (event,) = engine.store.list()
    assert event.why["reason"] in ("moving where nothing moves", "fast for this place")  # normal: sensor noise
    x, y, w, h = event.why["box"]
    assert 0 <= x < SIZE[0] and 0 <= y < SIZE[1] and w > 0 and h > 0 and 0 <= y < 24 and y + h > 8  # on the square
    assert all(m["why"]["reason"] == event.why["reason"] for m in messages)
    client = TestClient(create_app(engine), base_url=LOCAL)
    assert client.get(f"/api/events/{event.id}").json()["why"] == event.why
    assert client.get(f"/api/events/{event.id}/snapshot").content[:2] == b"\xff\xd8"


def test_a_database_from_before_explanations_is_read_and_extended(tmp_path, backend):
    import sqlite3

    from svdgan.serve import database

    if backend != "sqlite":
        pytest.skip("a SQLite file from an earlier version")

    folder = tmp_path / "old"
    folder.mkdir()
    db = sqlite3.connect(folder / "events.db")
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, camera TEXT NOT NULL, start REAL NOT NULL, "
               "end REAL, peak_score REAL NOT NULL, peak_frame INTEGER NOT NULL, snapshot TEXT, clip TEXT, "
               "bytes INTEGER NOT NULL DEFAULT 0, reviewed INTEGER NOT NULL DEFAULT 0, curve TEXT)")
    db.execute("INSERT INTO events (camera, start, end, peak_score, peak_frame) VALUES ('old', 1.0, 2.0, 3.0, 4)")
    db.commit()
    db.close()
    store = EventStore(folder)
    assert store.get(1).why is None and store.get(1).camera == "old"
    opened = store.open("new", 5.0, 2.0, 7, why={"reason": "fast for this place", "box": [1, 2, 3, 4]})
    store.touch(opened.id, 6.0, 3.0, 9, {"reason": "moving where nothing moves", "box": [5, 6, 7, 8]})
    store.touch(opened.id, 6.5, 2.5, 10, {"reason": "not the peak", "box": [0, 0, 1, 1]})
    event = store.get(opened.id)
    assert (event.peak_frame, event.why["reason"]) == (9, "moving where nothing moves")
    with store.engine.connect() as conn:  # migrated to the newest schema: a site's tables are there too
        assert database.version(conn) == len(database.MIGRATIONS) and store.latest_model("old") is None


@pytest.mark.parametrize("path,status", [
    ("/api/events/..%2F..%2Fetc%2Fpasswd/clip", 404),  # no route: never a file path
    ("/api/events/abc/clip", 422),  # not an event id
    ("/api/events/999/clip", 404),
    ("/api/events/1/../../events.db", 404),
    ("/api/cameras/nope/frame.jpg", 404),
    ("/api/events?limit=100000", 422),
    ("/api/events?since=yesterday", 422),
    ("/api/events?camera=" + "x" * 2000, 414),
])
def test_bad_requests_are_refused(served, path, status):
    engine, _ = served
    assert TestClient(create_app(engine), base_url=LOCAL).get(path).status_code == status


def test_token_is_required_on_every_request_when_set(served):
    engine, _ = served
    client = TestClient(create_app(engine, token=TOKEN), base_url=LOCAL)
    assert client.get("/api/events").status_code == 401
    assert client.get("/api/events", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/events", params={"token": TOKEN}).status_code == 401  # no URL carries the token
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/events", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    before = engine.store.get(1).reviewed
    assert client.post("/api/events/1/review", json={"reviewed": not before}).status_code == 401
    assert engine.store.get(1).reviewed == before  # nothing written


def test_binding_beyond_loopback_needs_a_token(capsys, monkeypatch):
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", "t")
    monkeypatch.delenv("SVDGAN_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "token" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text,message", [
    ("cameras: []", "cameras must be a non-empty list"),
    ("cameras: [{name: 'a b', source: x}]", "name must be"),
    ("cameras: [{name: a, source: x, threshold: -1}]", "threshold"),
    ("cameras: [{name: a, source: x, end_frames: 0}]", "end_frames must be an integer >= 1"),
    ("cameras: [{name: a, source: x, ignore: [[0.5, 0, 0.2, 1]]}]", "ignore"),
    ("cameras: [{name: a, source: x}, {name: a, source: y}]", "unique"),
    ("cameras: [{name: a, source: x}]\nmode: slow", "mode"),
    ("cameras: [{name: a, source: x}]\nspeed: 3", "unknown key"),
    ("cameras: [{name: a, source: x}]\nretention: {max_mb: -5}", "max_mb"),
    ("cameras: [{name: a, source: missing.avi}]", "source not found"),
    ("cameras: [{name: a, source: 'rtsp://x/y', checkpoint: nope.pt}]", "checkpoint not found"),
    ("cameras: [{name: a, source: x}]\nsite: {takeover_seconds: 6, renew_seconds: 3}", "under a third"),
    ("cameras: [{name: a, source: x}]\ndatabase: 5", "database must be a URL"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, text, message):
    path = tmp_path / "serve.yaml"
    path.write_text(text + f"\nstorage: {tmp_path / 'store'}\n")
    assert main(["serve", "--config", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "store").exists()  # nothing written


@pytest.mark.parametrize("args,message", [
    (["--worker"], "share one PostgreSQL database"),
    (["--review", "--db", "sqlite:///x.db"], "share one PostgreSQL database"),
    (["--worker", "a", "--review", "--db", "postgresql://u@h/d"], "not both"),
    (["--worker", "bad name", "--db", "postgresql://u@h/d"], "--worker NAME"),
    (["--db", "mysql://u@h/d"], "takes postgresql://"),
])
def test_bad_site_arguments_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.delenv("SVDGAN_DATABASE", raising=False)
    assert main(["serve", "--storage", str(tmp_path / "store"), "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "store").exists()


def test_config_file_round_trip(tmp_path):
    path = tmp_path / "serve.yaml"
    path.write_text("storage: s\nmode: exact\nretention: {max_age_hours: 1, max_mb: 5}\nclip: {pre_seconds: 1}\n"
                    "cameras:\n  - {name: lobby, source: 'rtsp://x/y', threshold: 1.2, min_frames: 4,"
                    " end_frames: 5, ignore: [[0, 0, 0.5, 0.5]]}\n")
    config = load_serve_config(path)
    cam = config.cameras[0]
    assert (config.mode, config.max_mb, config.pre_seconds) == ("exact", 5.0, 1.0)
    assert (cam.threshold, cam.min_frames, cam.end_frames, cam.ignore) == (1.2, 4, 5, [(0.0, 0.0, 0.5, 0.5)])


def test_ignore_mask_zeroes_the_error_of_its_region(camera_model):
    import torch

    from svdgan.data.frames import resize, to_model_range
    from svdgan.model.checkpoint import load_generator
    from svdgan.scoring.stream import StreamScorer

    generator, config, _ = load_generator(camera_model)
    frames = [to_model_range(resize(f, config.model.size, config.model.channels)[None]) for f in scene(6, 0, 6)]
    plain, masked = StreamScorer(generator, config, "fast"), StreamScorer(generator, config, "fast")
    keep = np.ones((config.model.size, config.model.size), np.float32)
    keep[:, : config.model.size // 2] = 0
    masked.set_ignore(0, torch.from_numpy(keep))
    for x in frames:
        a, b = plain.push(x), masked.push(x)
    assert float(b.errors[0, 0, :, : config.model.size // 2].abs().max()) == 0
    assert b.scores[0] <= a.scores[0]


class FlakyCapture:
    """An OpenCV-like capture that delivers `n` grey frames, then drops (or never opens)."""

    def __init__(self, n, opens=True):
        self.n, self.opens = n, opens

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return self.opens

    def get(self, prop):
        return 10.0

    def read(self):
        if self.n == 0:
            return False, None
        self.n -= 1
        return True, np.full((SIZE[1], SIZE[0], 3), 110, np.uint8)

    def release(self):
        pass


def test_a_camera_that_drops_is_reconnected_while_the_others_keep_scoring(camera_model, tmp_path):
    from svdgan.sources.video import CaptureSource

    captures = iter([FlakyCapture(10), FlakyCapture(0, opens=False), FlakyCapture(10)])
    flaky = CaptureSource("door", lambda: next(captures, FlakyCapture(0, opens=False)), live=True, retries=2,
                          sleep=lambda s: None)
    config = ServeConfig([CameraConfig("door", "x", checkpoint=str(camera_model)),
                          CameraConfig("lobby", "y", checkpoint=str(camera_model))], storage=str(tmp_path))
    engine = Engine(config, EventStore(tmp_path), sources={"door": flaky,
                                                           "lobby": ScriptedSource("lobby", scene(60))})
    engine.start()
    engine.join(60)
    engine.stop()
    door, lobby = engine.cameras["door"].health(), engine.cameras["lobby"].health()
    assert door["reconnects"] == 1 and door["frames"] + door["dropped"] == 20
    assert lobby["frames"] == 60 and lobby["error"] is None


def test_the_live_view_marks_an_anomalous_frames_reason_and_box():
    import cv2

    from svdgan.memory.explain import Why

    image = np.full((48, 64, 3), 120, np.uint8)
    errors = np.zeros((32, 32), np.float32)
    plain = cv2.imdecode(np.frombuffer(Engine._live_jpeg(image, errors), np.uint8), cv2.IMREAD_COLOR)
    marked = cv2.imdecode(np.frombuffer(Engine._live_jpeg(image, errors, Why("fast for this place", (20, 16, 16, 16))),
                                        np.uint8), cv2.IMREAD_COLOR)
    red = (marked[..., 2] > 180) & (marked[..., 1] < 90)  # BGR: the box is drawn in red
    assert not ((plain[..., 2] > 180) & (plain[..., 1] < 90)).any()
    assert red[16:33, 19:22].mean() > 0.5 and not red[40:, :10].any()  # its left edge, and not elsewhere
