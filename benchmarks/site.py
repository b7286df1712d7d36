"""A site on this machine: several `svdgan serve --worker` processes on one PostgreSQL.

    python -m benchmarks.site --workers 2 --cameras 8 --json benchmarks/results/site.json
                              [--db postgresql://...] [--seconds 20] [--takeover 30 --renew 5]

Each figure on a fresh schema of the database (`--db`, else $SVDGAN_DATABASE or
$SVDGAN_TEST_POSTGRES; `bash .ci/postgres` starts one on loopback):

- frames a second per camera, and in all, with 1 to N workers sharing M synthetic cameras (10
  frames/s each, or --fps, learning their normal from their first 40 frames): on one machine the workers
  share its cores, so this is the ratio to one worker alone, not a speed-up;
- takeover: the last run's first worker killed with SIGKILL, the seconds until every camera is
  scored by the others (the setting: `--takeover`);
- event rows a second the database takes: N writers (an EventStore each, as N workers) opening,
  touching and closing events as fast as they can;
- coordination: the CPU a worker's rounds (heartbeat, renewal, share, claim) cost, in the worker
  and in PostgreSQL, per camera: in milliseconds per round and as a share of scoring that camera.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from svdgan.defaults import RENEW_S, TAKEOVER_S
from svdgan.errors import UserError
from svdgan.serve import database
from svdgan.serve.site import Site, SiteWorker
from svdgan.serve.store import EventStore
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware

CAMERA_FPS = 10.0  # each synthetic camera's rate unless --fps (at 25 a second 8 cameras need more than 2 cores)


def say(message: str) -> None:
    print(f"[site] {message}", file=sys.stderr, flush=True)


class Schema:
    """A fresh schema of the database for one measurement, dropped afterwards."""

    count = 0

    def __init__(self, url: str):
        Schema.count += 1
        self.name = f"bench_{os.getpid()}_{Schema.count}"
        self.admin = sa.create_engine(database.url_for(Path(), url), isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {self.name}"))
        self.url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {self.name} CASCADE"))
        self.admin.dispose()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The database server's processes, where it runs on this machine."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() in ("postgres", "postmaster"):
                pids.append(int(stat.parent.name))
        except OSError:
            continue
    return pids


def stats(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=5) as answer:
            return json.load(answer)
    except OSError:
        return None


def scored(ports: dict[str, int]) -> dict[str, tuple[str, int]]:
    """camera -> (the worker scoring it, its frames so far), from each worker's own cameras."""
    found = {}
    for worker, port in ports.items():
        for cam in (stats(port) or {}).get("cameras", []):
            if cam.get("worker") == worker and cam.get("state") == "ok":
                found[cam["camera"]] = (worker, cam["frames"])
    return found


def wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise UserError(f"benchmark: timed out waiting for {what}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_site(url: str, workers: int, cameras: int, seconds: float, takeover_s: float, renew_s: float,
             folder: Path, kill_one: bool, fps: float = CAMERA_FPS) -> dict[str, Any]:
    """`workers` worker processes over `cameras` synthetic cameras: their frames a second (and, with
    `kill_one`, the takeover time after one is killed)."""
    schema = Schema(url)
    config = folder / f"site_{workers}.yaml"
    config.write_text(json.dumps({"site": {"takeover_seconds": takeover_s, "renew_seconds": renew_s},
                                  "cameras": [{"name": f"cam{k:02d}", "source": f"synthetic:{k + 1}",
                                               "fps": fps, "learn": "40"} for k in range(cameras)]}))
    ports = {f"w{k}": free_port() for k in range(workers)}
    processes = {name: subprocess.Popen(
        [sys.executable, "-m", "svdgan", "serve", "--config", str(config), "--db", schema.url, "--worker", name,
         "--storage", str(folder / f"storage_{workers}_{name}"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=open(folder / f"{workers}_{name}.log", "w"))
        for name, port in ports.items()}
    result: dict[str, Any] = {"workers": workers, "cameras": cameras, "camera_fps": fps}
    try:
        # every camera learnt and scored, shared out (a worker that started first gives some back)
        share = -(-cameras // workers)
        wait(lambda: len(found := scored(ports)) == cameras and max(
            sum(w == name for w, _ in found.values()) for name in ports) <= share, 180 + 20 * cameras,
             "every camera to be scored")
        time.sleep(3)
        pids = [p.pid for p in processes.values()]
        first, cpu0, t0 = scored(ports), cpu_seconds(pids), time.monotonic()
        time.sleep(seconds)
        last, cpu1, t1 = scored(ports), cpu_seconds(pids), time.monotonic()
        rates = [(last[c][1] - first[c][1]) / (t1 - t0) for c in first if c in last and last[c][0] == first[c][0]]
        result.update(per_camera_fps=round(sum(rates) / len(rates), 2), total_fps=round(sum(rates), 1),
                      workers_cpu_per_s=round((cpu1 - cpu0) / (t1 - t0), 2),
                      cameras_per_worker={name: sum(w == name for w, _ in last.values()) for name in ports})
        say(f"{workers} worker(s), {cameras} cameras: {result['per_camera_fps']} frames/s per camera, "
            f"{result['total_fps']} in all")
        if kill_one and workers > 1:
            victim = "w0"
            theirs = {c for c, (w, _) in last.items() if w == victim}
            processes[victim].send_signal(signal.SIGKILL)
            killed = time.monotonic()
            survivors = {n: p for n, p in ports.items() if n != victim}
            wait(lambda: theirs <= set(scored(survivors)), takeover_s + 30, "the takeover")
            result["takeover"] = {"setting_s": takeover_s, "renew_s": renew_s, "cameras_moved": len(theirs),
                                  "measured_s": round(time.monotonic() - killed, 1)}
            say(f"takeover of {len(theirs)} cameras after SIGKILL: {result['takeover']['measured_s']} s "
                f"(setting {takeover_s} s)")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            process.wait(30)
        schema.drop()
    return result


def event_rows(url: str, writers: int, seconds: float, folder: Path) -> dict[str, Any]:
    """Events a second that `writers` EventStores (as many workers) open, touch once and close."""
    schema = Schema(url)
    stores = [EventStore(folder / f"rows_{k}", schema.url, worker=f"w{k}") for k in range(writers)]
    counts = [0] * writers
    stop = threading.Event()

    def write(k: int) -> None:
        store = stores[k]
        while not stop.is_set():
            now = time.time()
            event = store.open(f"cam{k}", now, 2.0, 1)
            store.touch(event.id, now, 2.5, 2)
            store.close_event(event.id, now, [(now, 2.5)], 3)
            counts[k] += 1

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    rows = stores[0]._scalar("SELECT COUNT(*) FROM events")
    for store in stores:
        store.close()
    schema.drop()
    events = sum(counts) / elapsed
    say(f"event rows: {events:.0f} events a second from {writers} writer(s) (open, touch, close each)")
    return {"writers": writers, "events_per_s": round(events, 1), "statements_per_event": 4,
            "rows": rows, "counted": sum(counts)}


def coordination(url: str, workers: int, cameras: int, rounds: int, renew_s: float, takeover_s: float,
                 ms_per_frame: float) -> dict[str, Any]:
    """The CPU of `rounds` site rounds for each of `workers` workers over `cameras` cameras (no
    scoring: the cameras are started and stopped as no-ops), in this process and in PostgreSQL;
    beside `ms_per_frame`, a worker's CPU per frame it scores (measured with one worker)."""
    schema = Schema(url)
    store = EventStore(Path(tempfile.mkdtemp()), schema.url, worker="bench")
    from svdgan.serve.config import CameraConfig

    for k in range(cameras):
        store.add_camera(CameraConfig(f"cam{k:02d}", f"synthetic:{k}"))
    sites = [SiteWorker(Site(store, f"w{k}", None, takeover_s, renew_s), lambda name: None, lambda name: None,
                        lambda: [], lambda part, exc: None) for k in range(workers)]
    for site in sites:  # every worker joins and takes its share
        site.round()
    for site in sites:
        site.round()
    server = postgres_pids()
    me0, db0 = time.process_time(), cpu_seconds(server)
    for _ in range(rounds):
        for site in sites:
            site.round()
    me1, db1 = time.process_time(), cpu_seconds(server)
    held = sum(len(s.held) for s in sites)
    store.close()
    schema.drop()
    per_round_ms = 1000 * ((me1 - me0) + (db1 - db0)) / (rounds * workers)
    per_camera_ms_per_s = per_round_ms * workers / cameras / renew_s
    scoring_ms_per_s = ms_per_frame * 5  # a camera scored at 5 frames a second
    say(f"coordination: {per_round_ms:.2f} ms of CPU per worker round ({held} of {cameras} cameras held), "
        f"{per_camera_ms_per_s:.3f} ms a second per camera")
    return {"workers": workers, "cameras": cameras, "rounds": rounds, "renew_s": renew_s,
            "worker_cpu_ms_per_round": round(1000 * (me1 - me0) / (rounds * workers), 3),
            "database_cpu_ms_per_round": round(1000 * (db1 - db0) / (rounds * workers), 3),
            "cpu_ms_per_camera_per_s": round(per_camera_ms_per_s, 4), "worker_cpu_ms_per_frame": round(ms_per_frame, 2),
            "share_of_scoring_at_5_fps": round(per_camera_ms_per_s / scoring_ms_per_s, 5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.site", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--db", default=os.environ.get("SVDGAN_DATABASE") or os.environ.get("SVDGAN_TEST_POSTGRES"))
    parser.add_argument("--seconds", type=float, default=20.0, help="frames counted over this long per run")
    parser.add_argument("--fps", type=float, default=CAMERA_FPS, help="each synthetic camera's frames a second")
    parser.add_argument("--takeover", type=float, default=TAKEOVER_S)
    parser.add_argument("--renew", type=float, default=RENEW_S)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    try:
        if not args.db:
            raise UserError("benchmark: needs a PostgreSQL: --db postgresql://USER@HOST/NAME "
                            "(bash .ci/postgres starts one on loopback and prints its URL)")
        if args.workers < 1 or args.cameras < 1:
            raise UserError("benchmark: --workers and --cameras must be at least 1")
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            results: dict[str, Any] = {"hardware": hardware(), "command": " ".join(["python -m benchmarks.site",
                                                                                  *(argv or sys.argv[1:])])}
            results["scaling"] = [run_site(args.db, n, args.cameras, args.seconds, args.takeover, args.renew,
                                           folder, n == args.workers, args.fps) for n in range(1, args.workers + 1)]
            alone = results["scaling"][0]["total_fps"]
            for row in results["scaling"]:
                row["total_fps_ratio_to_one_worker"] = round(row["total_fps"] / alone, 3)
            results["takeover"] = results["scaling"][-1].pop("takeover", None)
            results["event_rows"] = event_rows(args.db, args.workers, 10.0, folder)
            one = results["scaling"][0]
            results["coordination"] = coordination(args.db, args.workers, args.cameras, 50, args.renew,
                                                   args.takeover, 1000 * one["workers_cpu_per_s"] / one["total_fps"])
        results["seconds"] = round(time.monotonic() - started, 1)
    except UserError as exc:
        print(f"svdgan: {exc}", file=sys.stderr)
        return 2
    print(describe(results["hardware"]))
    for row in results["scaling"]:
        print(f"{row['workers']} worker(s): {row['per_camera_fps']:6.2f} frames/s per camera, {row['total_fps']:6.1f} "
              f"in all ({row['total_fps_ratio_to_one_worker']:.2f}x one worker), {row['workers_cpu_per_s']} CPU s/s")
    if results["takeover"]:
        t = results["takeover"]
        print(f"takeover after SIGKILL: {t['measured_s']} s for {t['cameras_moved']} cameras "
              f"(setting {t['setting_s']} s)")
    print(f"event rows: {results['event_rows']['events_per_s']} events/s from {args.workers} writers")
    c = results["coordination"]
    print(f"coordination: {c['cpu_ms_per_camera_per_s']} ms CPU a second per camera "
          f"({100 * c['share_of_scoring_at_5_fps']:.3f}% of scoring it at 5 frames/s)")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
