"""A site for real: two `svdgan serve --worker` processes and one `--review` on loopback, sharing
one PostgreSQL and one Mosquitto, four synthetic cameras. One worker is killed with SIGKILL; the
other takes its cameras within the takeover time, no camera is ever scored by both, no event row is
lost or doubled, and the review page and /api/stats show the move."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import sqlalchemy as sa

from .conftest import POSTGRES, schema_url
from .test_serve_live import _chrome, _wait, free_port

TAKEOVER_S, RENEW_S = 6.0, 1.0
CAMERAS = ["cam1", "cam2", "cam3", "cam4"]


def stats(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=3) as answer:
            return json.load(answer)
    except OSError:
        return None


def scoring_here(answer: dict | None, worker: str) -> set[str]:
    """The cameras a worker's own /api/stats says it scores (or learns) now."""
    return {c["camera"] for c in (answer or {}).get("cameras", [])
            if c.get("worker") == worker and c.get("state") in ("ok", "learning")}


@pytest.mark.skipif(POSTGRES is None, reason="no PostgreSQL: export SVDGAN_TEST_POSTGRES=$(bash .ci/postgres)")
def test_a_worker_killed_with_sigkill_has_its_cameras_taken_over_with_nothing_lost_or_doubled(tmp_path, broker):
    import paho.mqtt.client as mqtt

    url = schema_url(tmp_path / "site")
    config = tmp_path / "site.yaml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "site": {"takeover_seconds": TAKEOVER_S, "renew_seconds": RENEW_S},
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker},
        "clip": {"pre_seconds": 0.5, "post_seconds": 0.5},
        "cameras": [{"name": name, "source": f"synthetic:{k + 1}", "fps": 8, "learn": "80"}
                    for k, name in enumerate(CAMERAS)]}))
    messages: list[tuple[str, str]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-site")
    client.on_connect = lambda c, *_: c.subscribe("svdgan/#", qos=1)
    client.on_message = lambda c, u, m: messages.append((m.topic, m.payload.decode()))
    client.connect("127.0.0.1", broker)
    client.loop_start()

    ports = {"a": free_port(), "b": free_port(), "review": free_port()}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes = {}
    for name, role in (("a", ["--worker", "a"]), ("b", ["--worker", "b"]), ("review", ["--review"])):
        processes[name] = subprocess.Popen(
            [sys.executable, "-m", "svdgan", "serve", "--config", str(config), "--db", url, *role,
             "--storage", str(tmp_path / f"storage_{name}"), "--port", str(ports[name])],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "w"), env=env)
    seen: list[tuple[float, set[str], set[str]]] = []  # (time, a's cameras, b's cameras), every 0.2 s
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            a = scoring_here(stats(ports["a"]), "a") if processes["a"].poll() is None else set()
            seen.append((time.monotonic(), a, scoring_here(stats(ports["b"]), "b")))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        _wait(lambda: all(stats(p) for p in ports.values()), timeout=60)
        watcher.start()
        # the workers share the cameras: two each, once both have joined, learnt and scored
        _wait(lambda: seen and len(seen[-1][1]) == 2 and len(seen[-1][2]) == 2, timeout=90, step=0.5)
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))

        def rows():
            with engine.connect() as conn:
                return conn.execute(sa.text('SELECT id, camera, start, "end", worker, clip FROM events '
                                            "ORDER BY id")).all()

        _wait(lambda: any(r.worker == "a" for r in rows()), timeout=60, step=0.5)  # a has recorded events
        held_by_a = seen[-1][1]
        processes["a"].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _wait(lambda: seen[-1][2] == set(CAMERAS) and seen[-1][0] > killed, timeout=30, step=0.1)
        taken = seen[-1][0] - killed
        assert taken <= TAKEOVER_S + 0.5, f"taken over after {taken:.1f} s"
        before = {c["camera"]: c["frames"] for c in stats(ports["b"])["cameras"]}
        time.sleep(2)
        after = {c["camera"]: c["frames"] for c in stats(ports["b"])["cameras"]}
        assert all(after[c] > before[c] for c in held_by_a)  # scored, with the memory a learnt (no learning)
        assert all(c["state"] == "ok" for c in stats(ports["b"])["cameras"])

        review = stats(ports["review"])  # the review page's API shows the move, and the worker gone
        assert {c["camera"]: c["worker"] for c in review["cameras"]} == dict.fromkeys(CAMERAS, "b")
        assert {w["name"]: w["alive"] for w in review["workers"]} == {"a": False, "b": True}
        driver = _chrome()
        try:
            driver.get(f"http://127.0.0.1:{ports['review']}/#/health")
            workers = "return [...document.querySelectorAll('#health td.worker')].map((td) => td.textContent)"
            _wait(lambda: driver.execute_script(workers) == ["b"] * 4, timeout=10)
            gone = "return document.querySelector('#workers .worker-gone td')?.textContent"
            _wait(lambda: driver.execute_script(gone) == "a", timeout=10)
        finally:
            driver.quit()
        # a clip recorded by b plays from the review page, fetched from b
        recorded = _wait(lambda: [r.id for r in rows() if r.worker == "b" and r.clip], timeout=40, step=0.5)
        clip = urllib.request.urlopen(f"http://127.0.0.1:{ports['review']}/api/events/{recorded[0]}/clip", timeout=10)
        assert clip.headers["Content-Type"] == "video/webm" and clip.read(4) == b"\x1a\x45\xdf\xa3"  # EBML
        time.sleep(3)  # b's events of the cameras it took go on
    finally:
        watching.set()
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            process.wait(20)
        client.loop_stop()
    assert processes["b"].returncode == 0, (tmp_path / "b.log").read_text()[-2000:]

    # never scored by both at once
    assert not [(t, a & b) for t, a, b in seen if a & b]
    # every event is one row, closed (a's open one at its last frame), none overlapping another of its camera
    events = rows()
    assert events and all(r.end is not None for r in events) and {r.worker for r in events} == {"a", "b"}
    for camera in CAMERAS:
        mine = [r for r in events if r.camera == camera]
        assert all(later.start >= earlier.end for earlier, later in zip(mine, mine[1:])), camera
    announced = {json.loads(p)["id"] for t, p in messages if t.endswith("/events") and json.loads(p)["type"] == "new"}
    assert announced and announced <= {r.id for r in events}  # every event announced has its row
    availability = [p for t, p in messages if t == "svdgan/workers/a/availability"]
    assert availability[-1] == "offline"  # the broker's last will for the worker that died


@pytest.fixture
def site_store(tmp_path):
    if POSTGRES is None:
        pytest.skip("no PostgreSQL: export SVDGAN_TEST_POSTGRES=$(bash .ci/postgres)")
    from svdgan.serve.config import CameraConfig
    from svdgan.serve.store import EventStore

    store = EventStore(tmp_path / "s", schema_url(tmp_path / "leases"), worker="test")
    for name in CAMERAS:
        store.add_camera(CameraConfig(name, "synthetic:1"))
    yield store
    store.close()


def rounds_of(store, name, started, stopped, takeover=3.0, renew=0.5):
    from svdgan.serve.site import Site, SiteWorker

    return SiteWorker(Site(store, name, None, takeover, renew), lambda c: started.append((name, c)),
                      lambda c: stopped.append((name, c)), lambda: [], lambda part, exc: None)


def test_workers_share_the_cameras_and_one_that_stops_renewing_has_them_taken(site_store):
    started, stopped = [], []
    a, b = rounds_of(site_store, "a", started, stopped), rounds_of(site_store, "b", started, stopped)
    a.round()
    assert sorted(a.held) == CAMERAS  # alone: every camera
    b.round()  # b has joined: a's next round gives back what is beyond its share, b takes it
    a.round()
    b.round()
    assert len(a.held) == len(b.held) == 2 and not set(a.held) & set(b.held)
    assert sorted(c for w, c in stopped if w == "a") == sorted(b.held)  # stopped before they were let go
    a.round()
    renewed = time.monotonic()  # a's last renewal: then it stops (it died); b goes on
    while time.monotonic() - renewed < 1.7:  # its leases run 3 - 2 x 0.5 = 2 s: b takes none of its cameras
        b.round()
        assert len(b.held) == 2
        time.sleep(0.25)
    time.sleep(0.5)
    b.round()
    assert sorted(b.held) == CAMERAS and sorted(c for w, c in started if w == "b") == CAMERAS


def test_a_worker_that_loses_the_database_stops_scoring_before_its_leases_run_out(site_store, monkeypatch):
    started, stopped = [], []
    a = rounds_of(site_store, "a", started, stopped)
    a.round()
    assert sorted(a.held) == CAMERAS and time.monotonic() < a.deadline
    lost = sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    monkeypatch.setattr(a.site, "heartbeat", lambda health: (_ for _ in ()).throw(lost))
    a.round()  # the first failure: still within its lease, it goes on
    assert sorted(a.held) == CAMERAS and not stopped
    with site_store.engine.connect() as conn:
        lease_until = conn.execute(sa.text("SELECT MIN(lease_until) FROM cameras")).scalar()
    time.sleep(max(0.0, a.deadline - time.monotonic()) + 0.05)
    a.round()
    assert a.held == [] and sorted(c for _, c in stopped) == CAMERAS  # stopped, one round before
    assert time.time() < lease_until  # ... its leases could be taken by another worker


def test_a_worker_restarted_under_its_name_waits_until_its_former_leases_have_run_out(site_store):
    started, stopped = [], []
    before = rounds_of(site_store, "a", started, stopped)
    before.round()  # then it crashes: no release, no goodbye
    restarted = rounds_of(site_store, "a", started, stopped)
    restarted.start()
    try:
        time.sleep(1.0)
        assert restarted.held == []  # its former self's leases (2 s) still run: it waits
        _wait(lambda: sorted(restarted.held) == CAMERAS, timeout=5)
    finally:
        restarted.stop.set()
        restarted.join(5)
    assert restarted.held == [] and sorted(c for _, c in stopped) == CAMERAS  # let go on stop
