"""A camera that learns its own normal in `svdgan serve`: added on the API, learning with progress,
then scoring with its own memory; a restart in the middle of learning goes on from what it gathered."""

import time

import pytest
from fastapi.testclient import TestClient

from svdgan.serve import models
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.serve.web import create_app

from .test_serve import LOCAL, TOKEN

pytestmark = pytest.mark.usefixtures("backend")  # each test on SQLite and on PostgreSQL

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_camera_added_on_the_api_learns_then_scores(tmp_path):
    engine = Engine(ServeConfig([], storage=str(tmp_path)), EventStore(tmp_path))
    client = TestClient(create_app(engine, TOKEN), base_url=LOCAL)
    engine.start()
    try:
        answer = client.post("/api/cameras", json={"name": "gate", "source": "synthetic:4", "fps": 40, "learn": "3s"},
                             headers=AUTH)
        assert answer.status_code == 200 and answer.json()["learning"] == "gathering"
        assert answer.json()["learn_needed"] == 120
        progress = []
        until(lambda: progress.append(client.get("/api/stats", headers=AUTH).json()["cameras"][0])
              or progress[-1]["learning"] is None)
        assert any(0 < p["learn_frames"] < 120 and p["state"] == "learning" for p in progress)  # progress shown
        until(lambda: engine.cameras["gate"].scores)  # then it scores with its own memory
        assert models.latest(engine.store, "gate") == "v000001" and not (models.folder(tmp_path, "gate")
                                                                        / "learning.pt").exists()
        bad = client.post("/api/cameras", json={"name": "no/slash", "source": "synthetic:1"}, headers=AUTH)
        assert bad.status_code == 422 and "name" in bad.json()["detail"]
        again = client.post("/api/cameras", json={"name": "gate", "source": "synthetic:1"}, headers=AUTH)
        assert again.status_code == 422 and "already" in again.json()["detail"]
        more = client.post("/api/cameras/gate/learn", json={"learn": "40"}, headers=AUTH)
        assert more.status_code == 200 and more.json()["learning"] == "gathering" and more.json()["score"] is not None
        until(lambda: engine.cameras["gate"].learner is None)  # learnt more, scoring all along
        assert models.latest(engine.store, "gate") == "v000002"
    finally:
        engine.stop()
    restarted = Engine(ServeConfig([], storage=str(tmp_path)), EventStore(tmp_path))
    assert "gate" in restarted.cameras and restarted.cameras["gate"].learner is None  # remembered, scoring


def test_a_restart_in_the_middle_of_learning_goes_on_learning(tmp_path):
    config = ServeConfig([CameraConfig("yard", "synthetic:3", fps=40.0, learn="400")], storage=str(tmp_path))
    engine = Engine(config, EventStore(tmp_path))
    engine.start()
    until(lambda: engine.cameras["yard"].learner.gathered >= 60)
    engine.stop()
    gathered = engine.cameras["yard"].learner.gathered
    assert 60 <= gathered < 400 and engine.cameras["yard"].stream is None

    again = Engine(config, EventStore(tmp_path))
    assert again.cameras["yard"].learner.gathered == gathered  # what it had gathered, from disk
    again.start()
    try:
        until(lambda: again.cameras["yard"].scores)
        assert models.latest(again.store, "yard") is not None
    finally:
        again.stop()


def test_learn_more_is_for_cameras_that_learnt_their_own(tmp_path):
    config = ServeConfig([CameraConfig("lobby", "synthetic:1", checkpoint="shipped")], storage=str(tmp_path))
    engine = Engine(config, EventStore(tmp_path))
    client = TestClient(create_app(engine, TOKEN), base_url=LOCAL)
    answer = client.post("/api/cameras/lobby/learn", json={"learn": "1m"}, headers=AUTH)
    assert answer.status_code == 409 and "svdgan train" in answer.json()["detail"]
