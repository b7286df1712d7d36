"""`svdgan serve` for real: a server on a loopback port, the page in headless Chromium (selenium),
a Mosquitto broker, a killed server. Needs Debian's chromium, chromium-driver and mosquitto
(.ci/run installs them)."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.sources.video import Frame, Source

from .conftest import store_url
from .test_feedback import memory_model  # noqa: F401 (a fixture)
from .test_serve import SIZE, camera_model  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("backend")  # each test on SQLite and on PostgreSQL

# The README's screenshots: SVDGAN_SCREENSHOTS=docs pytest tests/test_serve_live.py -k chromium
SCREENSHOTS = os.environ.get("SVDGAN_SCREENSHOTS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveScene(Source):
    """A paced synthetic camera: grey frames, and a bright square for `inject(n)` frames."""

    live = True
    fps = 20.0

    def __init__(self, name: str):
        self.name, self._inject, self.stopped = name, 0, threading.Event()
        self.rng = np.random.default_rng(0)
        self._clip: list[np.ndarray] = []

    def inject(self, frames: int) -> None:
        self._inject = frames

    def play(self, clip: list[np.ndarray]) -> None:
        """Show these frames next, then go on as before (a clip replayed)."""
        self._clip = list(clip)

    def frames(self):
        start, i = time.monotonic(), 0
        while not self.stopped.is_set():
            image = np.clip(110 + self.rng.normal(0, 2, (SIZE[1], SIZE[0], 3)), 0, 255).astype(np.uint8)
            if self._clip:
                image = self._clip.pop(0)
            elif self._inject > 0:
                x = 2 + 2 * (self._inject % 12)
                image[8:24, x:x + 14] = 250
                self._inject -= 1
            yield Frame(i, time.monotonic() - start, image)
            i += 1
            time.sleep(max(0.0, start + i / self.fps - time.monotonic()))


@contextlib.contextmanager
def serving(app, **options):
    """The app on a loopback port of its own, in a thread, until the block ends; yields the port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started, timeout=20)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(camera_model, tmp_path):  # noqa: F811
    from svdgan.serve.web import create_app

    config = ServeConfig([CameraConfig("lobby", "scene", threshold=1.5, min_frames=2, checkpoint=str(camera_model))],
                         storage=str(tmp_path / "storage"), pre_seconds=0.5, post_seconds=0.5)
    scene, alerts = LiveScene("lobby"), []
    engine = Engine(config, EventStore(tmp_path / "storage"),
                    lambda cam, kind, payload: alerts.append((kind, payload, time.monotonic())),
                    sources={"lobby": scene})
    engine.start()
    with serving(create_app(engine)) as port:
        yield f"http://127.0.0.1:{port}", scene, alerts, engine
        scene.stopped.set()
    engine.stop()


def _chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,800",
                 "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def _wait(condition, timeout=20.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out")


def test_page_live_view_events_clip_and_review_in_chromium(live_server, tmp_path):
    url, scene, alerts, engine = live_server
    shots = Path(SCREENSHOTS or tmp_path)
    driver = _chrome()
    try:
        driver.get(url + "/#/live")
        _wait(lambda: driver.execute_script("const i = document.querySelector('img.live'); return i && i.naturalWidth"))
        newest = "return Number(document.querySelector('canvas.curve').dataset.last)"
        first = _wait(lambda: driver.execute_script(newest))
        _wait(lambda: driver.execute_script(newest) > first)  # the curve moves
        driver.save_screenshot(str(shots / "serve_live.png"))

        driver.get(url + "/#/events")
        scene.inject(30)
        _wait(lambda: [a for a in alerts if a[0] == "new"], timeout=30)
        opened = next(a for a in alerts if a[0] == "new")
        event_id = opened[1]["id"]
        # the open page shows it by itself, with no reload (its poll, not a speed target: a few seconds)
        _wait(lambda: driver.execute_script(f"return document.querySelector('tr.event[data-id=\"{event_id}\"]')"),
              timeout=10)
        driver.save_screenshot(str(shots / "serve_events.png"))

        _wait(lambda: engine.store.get(event_id).clip, timeout=30)  # the clip is complete after the post-roll
        driver.get(url + f"/#/event/{event_id}")
        _wait(lambda: driver.execute_script("const v = document.getElementById('clip'); return v && v.currentTime > 0"))
        driver.save_screenshot(str(shots / "serve_event.png"))
        driver.find_element("id", "review").click()
        _wait(lambda: engine.store.get(event_id).reviewed)
        driver.refresh()
        _wait(lambda: driver.execute_script(
            "const s = document.getElementById('reviewed-state'); return s && s.textContent") == "reviewed")
    finally:
        driver.quit()


def test_normal_in_chromium_silences_the_same_motion_and_undo_brings_it_back(memory_model, tmp_path):  # noqa: F811
    from svdgan.serve.web import create_app

    config = ServeConfig([CameraConfig("lobby", "scene", threshold=1.0, min_frames=2, checkpoint=str(memory_model))],
                         storage=str(tmp_path / "storage"), pre_seconds=0.3, post_seconds=0.3)
    scene, alerts = LiveScene("lobby"), []
    engine = Engine(config, EventStore(tmp_path / "storage"),
                    lambda cam, kind, payload: alerts.append((kind, payload["id"])), sources={"lobby": scene})
    engine.start()

    from .test_serve import scene as frames_of

    clip = frames_of(33, 3, 33, seed=7)  # the same clip each time: a bright square crosses from its 4th frame

    def crossing() -> list:
        """The clip replayed on the live camera; the events it raised once it is over."""
        before = len(alerts)
        scene.play(clip)
        time.sleep(len(clip) / scene.fps + 1.5)  # its frames, the frames that end an event and the post-roll
        _wait(lambda: not engine.cameras["lobby"].tracker.open, timeout=10)
        return [i for kind, i in alerts[before:] if kind == "new"]

    driver = _chrome()
    try:
        with serving(create_app(engine)) as port:
            [event_id] = crossing()
            _wait(lambda: engine.store.get(event_id).motion, timeout=10)
            driver.get(f"http://127.0.0.1:{port}/#/event/{event_id}")
            _wait(lambda: driver.execute_script("const b = document.getElementById('normal'); return b && !b.disabled"))
            driver.find_element("id", "normal").click()
            _wait(lambda: "learnt" in driver.find_element("id", "label-state").text, timeout=20)
            assert engine.store.get(event_id).label == "normal"
            assert crossing() == []  # taught: the same motion raises no event
            driver.find_element("id", "undo").click()
            _wait(lambda: driver.find_element("id", "label-state").text == "no verdict yet", timeout=20)
            assert len(crossing()) == 1  # undone: it does again
    finally:
        driver.quit()
        scene.stopped.set()
        engine.stop()


def test_a_camera_added_on_the_page_learns_then_scores_and_raises_events(tmp_path):
    from svdgan.serve.web import create_app

    alerts = []
    engine = Engine(ServeConfig([], storage=str(tmp_path / "storage"), pre_seconds=0.3, post_seconds=0.3),
                    EventStore(tmp_path / "storage"), lambda cam, kind, payload: alerts.append(kind))
    engine.start()
    driver = _chrome()
    try:
        with serving(create_app(engine)) as port:
            driver.get(f"http://127.0.0.1:{port}/#/live")
            _wait(lambda: driver.execute_script("return document.getElementById('add-camera')"))
            driver.find_element("id", "new-name").send_keys("gate")
            driver.find_element("id", "new-source").send_keys("synthetic:2")
            learn = driver.find_element("id", "new-learn")
            learn.clear()
            learn.send_keys("40")  # frames: its first clip, at 10 frames/s
            driver.find_element("css selector", "#add-camera button").click()
            state = "return (document.querySelector('#cam-gate .state') || {}).textContent || ''"
            _wait(lambda: "learning its normal:" in driver.execute_script(state) and " of 40 frames" in
                  driver.execute_script(state), timeout=20)  # progress, live on the page
            _wait(lambda: driver.execute_script(state).startswith("score"), timeout=30)  # learnt: it scores
            assert engine.cameras["gate"].model == "v000001"
            _wait(lambda: "new" in alerts, timeout=60)  # the synthetic camera's anomaly, after its normal clips
    finally:
        driver.quit()
        engine.stop()


def test_a_restart_in_the_middle_of_learning_goes_on_learning_on_the_page(tmp_path):
    import re

    from svdgan.serve.web import create_app

    config = ServeConfig([CameraConfig("yard", "synthetic:3", fps=40.0, learn="2000")], storage=str(tmp_path))
    state = "return (document.querySelector('#cam-yard .state') || {}).textContent || ''"

    def gathered(driver) -> int:
        found = re.search(r"learning its normal: (\d+) of 2000 frames", driver.execute_script(state))
        return int(found.group(1)) if found else -1

    driver = _chrome()
    before = 0  # frames gathered when the first server stopped
    try:
        for run in range(2):
            engine = Engine(config, EventStore(tmp_path))
            engine.start()
            with serving(create_app(engine)) as port:
                driver.get(f"http://127.0.0.1:{port}/#/live")
                if run == 0:
                    _wait(lambda: gathered(driver) >= 60, timeout=30)
                else:  # after the restart: on from where it was, not from 0
                    first = _wait(lambda: gathered(driver) if gathered(driver) >= 0 else None, timeout=30)
                    assert first >= before > 0
                    _wait(lambda first=first: gathered(driver) > first, timeout=30)  # and goes on
            engine.stop()
            if run == 0:
                before = engine.cameras["yard"].learner.gathered
    finally:
        driver.quit()


def test_mqtt_new_and_end_with_matching_ids(camera_model, tmp_path, broker):  # noqa: F811
    import paho.mqtt.client as mqtt

    from svdgan.serve.mqtt import MqttPublisher, MqttSettings

    received, subscribed = [], threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test")
    client.on_connect = lambda c, *_: c.subscribe("svdgan/+/events", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, m: received.append((m.topic, json.loads(m.payload)))
    client.connect("127.0.0.1", broker)
    client.loop_start()
    assert subscribed.wait(10)
    from .test_serve import ScriptedSource, scene

    config = ServeConfig([CameraConfig("lobby", "s", threshold=1.5, min_frames=2, checkpoint=str(camera_model))],
                         storage=str(tmp_path / "storage"), pre_seconds=0.2, post_seconds=0.2)
    publisher = MqttPublisher(MqttSettings("127.0.0.1", broker))
    engine = Engine(config, EventStore(tmp_path / "storage"), publisher,
                    sources={"lobby": ScriptedSource("lobby", scene(50, 20, 32))})
    engine.start()
    engine.join(60)
    engine.stop()
    _wait(lambda: any(p["type"] == "end" for _, p in received), timeout=10)
    publisher.close()
    client.loop_stop()
    kinds = {p["type"]: p for topic, p in received if topic == "svdgan/lobby/events"}
    assert kinds["new"]["id"] == kinds["end"]["id"] == engine.store.list()[0].id


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_sigkill_mid_event_ends_the_open_event_at_its_last_frame_with_a_clip_that_plays(
        camera_model, tmp_path, backend):  # noqa: F811
    storage = tmp_path / "storage"
    url = store_url(backend, storage)
    code = f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from tests.serve.test_serve_live import LiveScene
from svdgan.serve.store import EventStore
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
scene = LiveScene("lobby")
config = ServeConfig([CameraConfig("lobby", "s", threshold=1.5, min_frames=2, checkpoint={str(camera_model)!r})],
                     storage={str(storage)!r}, pre_seconds=0.3, post_seconds=0.3)
engine = Engine(config, EventStore({str(storage)!r}, {url!r}),
                lambda cam, kind, p: print(kind, p["id"], flush=True), sources={{"lobby": scene}})
engine.start()
time.sleep(1.0); scene.inject(20)
time.sleep(3.0); scene.inject(200)  # a second event, still open when killed
time.sleep(60)
"""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(line.startswith("new") for line in lines) < 2:
            lines.append(process.stdout.readline())
        time.sleep(2.5)  # mid-event, mid-clip
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    ended = [int(line.split()[1]) for line in lines if line.startswith("end")]
    assert ended, lines
    store = EventStore(storage)  # a restart
    first = store.get(ended[0])
    assert first is not None and first.end is not None and first.snapshot is not None
    import cv2

    for clip in store.media.glob("event_*.webm"):  # every clip in place is whole
        capture = cv2.VideoCapture(str(clip))
        assert capture.read()[0], clip.name
    assert all(e.end is not None for e in store.list())  # the one cut off is closed at restart
    assert not list(store.media.glob(".*partial*"))
    cut = store.list(limit=1)[0]
    assert cut.id not in ended and cut.end > cut.start + 1.0  # at its last recorded frame, not its start
    assert cut.clip is not None  # re-encoded from what the cut-off clip held
    frames = int(cv2.VideoCapture(str(store.media / cut.clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert frames >= 20  # its pre-roll and more than a second of the event, at 20 frames/s
    store.close()

    from svdgan.serve.web import create_app

    stored = Engine(ServeConfig([], storage=str(storage)), EventStore(storage))  # the page over what was kept
    with serving(create_app(stored)) as port:
        driver = _chrome()
        try:
            driver.get(f"http://127.0.0.1:{port}/#/event/{cut.id}")
            _wait(lambda: driver.execute_script("const v = document.getElementById('clip'); "
                                                "return v && v.currentTime > 0"), timeout=30)
        finally:
            driver.quit()


def test_mqtt_with_a_password_says_online_and_offline_and_a_bad_prefix_is_refused(tmp_path):
    import paho.mqtt.client as mqtt

    from svdgan.errors import UserError
    from svdgan.serve.mqtt import MqttPublisher, MqttSettings, check_prefix

    for bad in ("svdgan/#", "a/+/b", "a//b", "/a", ""):
        with pytest.raises(UserError, match="topic_prefix"):
            check_prefix(bad)
    broker = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(tmp_path / "passwd"), "cams", "s3cret-pass"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (tmp_path / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\n"  # user root: it reads
                                     f"password_file {tmp_path / 'passwd'}\nuser root\n")  # the file in tmp_path
    process = subprocess.Popen([broker, "-c", str(tmp_path / "m.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: _port_open(port), timeout=10)
        seen, subscribed = [], threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
        client.username_pw_set("cams", "s3cret-pass")
        client.on_connect = lambda c, *_: c.subscribe("site/cams/#", qos=1)  # the intruder's topic too
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = lambda c, u, m: seen.append(m.payload.decode())
        client.connect("127.0.0.1", port)
        client.loop_start()
        assert subscribed.wait(10)
        refused = MqttPublisher(MqttSettings("127.0.0.1", port, "site/cams", "cams", "wrong"), "intruder")
        time.sleep(1)
        assert seen == []  # a wrong password publishes nothing
        refused.client.loop_stop()
        publisher = MqttPublisher(MqttSettings("127.0.0.1", port, "site/cams", "cams", "s3cret-pass"))
        _wait(lambda: "online" in seen, timeout=10)
        publisher.close()
        _wait(lambda: seen[-1:] == ["offline"], timeout=10)
        client.loop_stop()
    finally:
        process.terminate()
        process.wait(10)
