"""The operator's verdicts in `svdgan serve`: "normal" teaches a camera's memory an event's motion, kept
across restarts in versioned files; "anomaly" keeps an event from retention; undo takes either back."""

import pytest
from fastapi.testclient import TestClient

import svdgan
from svdgan.serve import models
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.serve.web import create_app

from ..conftest import write_frame_folder
from .test_serve import LOCAL, TOKEN, ScriptedSource, scene

pytestmark = pytest.mark.usefixtures("backend")  # each test on SQLite and on PostgreSQL


@pytest.fixture(scope="module")
def memory_model(tmp_path_factory):
    """The recipe that ships, fitted on this 'camera's' normal footage."""
    root = tmp_path_factory.mktemp("feedback")
    for k in range(2):
        write_frame_folder(root / "normal" / "training" / "frames" / f"0{k}", scene(40, seed=10 + k), ext="png")
    return svdgan.train(root / "normal", root / "run", progress=False)


def watch(storage, model, frames):
    """One run of serve's engine over the 'lobby' camera's frames, to their end."""
    config = ServeConfig([CameraConfig("lobby", "scripted", threshold=1.0, min_frames=2, checkpoint=str(model))],
                         storage=str(storage), pre_seconds=0.5, post_seconds=0.5)
    engine = Engine(config, EventStore(storage), sources={"lobby": ScriptedSource("lobby", frames)})
    engine.start()
    engine.join(60)
    engine.stop()
    return engine


def test_normal_teaches_the_camera_across_restarts_and_undo_takes_it_back(memory_model, tmp_path):
    crossing = scene(60, 25, 37)  # a bright square crosses the scene: an event
    engine = watch(tmp_path, memory_model, crossing)
    [event] = engine.store.list()
    assert event.motion is not None and event.end is not None

    client = TestClient(create_app(engine, TOKEN), base_url=LOCAL)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.post(f"/api/events/{event.id}/feedback", json={"label": "normal"}, headers=auth)
    assert answer.status_code == 200 and answer.json()["label"] == "normal" and answer.json()["reviewed"]
    assert models.latest(engine.store, "lobby") == "v000001"  # committed before the answer
    [record] = client.get("/api/feedback", headers=auth).json()
    assert record["label"] == "normal" and record["who"].startswith("bearer token from") and record["model"]

    again = watch(tmp_path, memory_model, crossing)  # a restart: the camera scores with what it was taught
    assert len(again.store.list()) == 1  # the same crossing raises no event now

    client = TestClient(create_app(again, TOKEN), base_url=LOCAL)
    assert client.post(f"/api/events/{event.id}/feedback", json={"label": None}, headers=auth).json()["label"] is None
    assert models.latest(again.store, "lobby") == "v000002"
    back = watch(tmp_path, memory_model, crossing)
    assert len(back.store.list()) == 2  # undone: the crossing is an event again
    labels = [r["label"] for r in back.store.feedback()]
    assert labels == ["normal", "undo"]


def test_a_confirmed_anomaly_outlives_retention_and_an_open_event_gets_no_verdict(memory_model, tmp_path):
    engine = watch(tmp_path, memory_model, scene(60, 10, 20) + scene(60, 25, 37, seed=3))
    events = engine.store.list()
    assert len(events) == 2
    engine.feedback(events[0].id, "anomaly", "test")
    assert engine.store.enforce_retention(max_age_s=0) == 1
    [kept] = engine.store.list()
    assert kept.id == events[0].id and kept.label == "anomaly" and engine.store.media_path(kept.id, "clip")
    assert models.latest(engine.store, "lobby") is None  # confirming teaches nothing
    opened = engine.store.open("lobby", 0.0, 2.0, 1)
    client = TestClient(create_app(engine, TOKEN), base_url=LOCAL)
    answer = client.post(f"/api/events/{opened.id}/feedback", json={"label": "normal"},
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 409 and "still open" in answer.json()["detail"]
    assert client.post(f"/api/events/{kept.id}/feedback", json={"label": "maybe"},
                       headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 422
