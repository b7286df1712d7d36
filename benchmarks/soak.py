"""`svdgan serve` left running through faults: `python -m benchmarks.serve --soak [--minutes 30]`.

A real server on loopback with 4 synthetic cameras (fast mode); one of them is unplugged every
3 minutes for 60 s (through the reconnecting capture source). 50 HTTP clients poll the API and 5
of them watch live MJPEG, in bounded loops. Once, a third of the way in, the storage disk is filled
to its last byte (a tmpfs of its own where one can be mounted, else a filler file capped at
--fill-mb) and freed a while later. Reports frames scored per camera, events recorded against
events whose snapshot or clip was not saved (with the reasons), the faults seen, resident memory
over time, and the p99 latency of scoring and of the HTTP answers. Nothing may be lost silently:
every event opened must be a row at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from svdgan.evaluation.generator_speed import resident_mb
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.sources.synthetic import SynthSource
from svdgan.sources.video import CaptureSource
from svdgan.utils.clock import latency_summary
from svdgan.utils.hardware import hardware


class UnpluggedCapture:
    """A synthetic camera as an OpenCV-like capture, unplugged `down_s` of every `period_s` seconds."""

    def __init__(self, source: SynthSource, period_s: float, down_s: float):
        self.synth, self.frames, self.fps = source, source.frames(), source.fps
        self.period_s, self.down_s, self.start = period_s, down_s, time.monotonic()

    def down(self) -> bool:
        phase = (time.monotonic() - self.start) % self.period_s
        return phase >= self.period_s - self.down_s

    def open(self) -> UnpluggedCapture | None:
        return None if self.down() else self

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return not self.down()

    def get(self, prop: int) -> float:
        return self.fps

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.down():
            return False, None
        return True, next(self.frames).image[:, :, ::-1].copy()  # BGR, as OpenCV gives

    def release(self) -> None:
        pass


async def _clients(base: str, cameras: list[str], stop: threading.Event, n: int, mjpeg: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    statuses: Counter = Counter()

    async def poll(client: httpx.AsyncClient, k: int) -> None:
        paths = ["/api/stats", "/api/events?limit=20", f"/api/cameras/{cameras[k % len(cameras)]}/frame.jpg",
                 f"/api/cameras/{cameras[k % len(cameras)]}/scores?seconds=30"]
        i = 0
        while not stop.is_set():
            start = time.perf_counter()
            try:
                response = await client.get(paths[i % len(paths)])
                statuses[response.status_code] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - start)
            i += 1
            await asyncio.sleep(0.5)

    async def watch(client: httpx.AsyncClient, k: int) -> None:
        while not stop.is_set():
            try:
                async with client.stream("GET", f"/api/cameras/{cameras[k % len(cameras)]}/live.mjpg",
                                         params={"frames": 50}) as response:
                    statuses[f"mjpeg {response.status_code}"] += 1
                    async for _ in response.aiter_bytes():
                        if stop.is_set():
                            break
            except httpx.HTTPError as exc:
                statuses[f"mjpeg {type(exc).__name__}"] += 1
                await asyncio.sleep(1)

    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await asyncio.gather(*[poll(client, k) for k in range(n - mjpeg)], *[watch(client, k) for k in range(mjpeg)])
    return {"requests": len(latencies), "statuses": dict(statuses), "latency_ms": latency_summary(latencies)}


@contextlib.contextmanager
def _storage(size_mb: int):
    """A tmpfs of its own (so the disk can really be filled), or a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        mount = Path(folder) / "disk"
        mount.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)],
                                 capture_output=True).returncode == 0
        try:
            yield mount, mounted
        finally:
            if mounted:
                subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill_disk(folder: Path, cap_mb: int) -> Path:
    filler = folder / "filler"
    # unbuffered, and the error caught around the file too: closing a buffered file flushes what the
    # full disk refused, and fails again
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as f:
        for _ in range(cap_mb * 16):
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def soak(minutes: float = 30.0, cameras: int = 4, fps: float = 5.0, clients: int = 50, disk_mb: int = 256,
         fill_mb: int = 4096, sample_every_s: float = 30.0, checkpoint: str | None = None) -> dict[str, Any]:
    """The soak run; `checkpoint`: the model (default: the shipped one)."""
    import uvicorn

    from svdgan.serve.web import create_app

    period, down = min(180.0, minutes * 60 / 3), min(60.0, minutes * 60 / 9)
    with _storage(disk_mb) as (storage, mounted):
        names = [f"cam{k}" for k in range(cameras)]
        config = ServeConfig([CameraConfig(n, f"synthetic:{k}", fps=fps) for k, n in enumerate(names)],
                             storage=str(storage), mode="fast", min_free_mb=0, checkpoint=checkpoint)
        door = UnpluggedCapture(SynthSource(names[0], 0, fps), period, down)
        source = CaptureSource(names[0], door.open, live=True)
        source.fps, source.normal_clips = fps, door.synth.normal_clips  # calibrated as the others are
        opened: list[int] = []
        engine = Engine(config, EventStore(storage), lambda cam, kind, p: opened.append(p["id"]) if kind == "new"
                        else None, sources={names[0]: source})
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="error",
                                               limit_concurrency=200))
        threading.Thread(target=server.run, daemon=True).start()
        engine.start()
        stop = threading.Event()
        http: dict[str, Any] = {}
        client_thread = threading.Thread(target=lambda: http.update(asyncio.run(
            _clients(f"http://127.0.0.1:{port}", names, stop, clients, min(5, clients // 2)))), daemon=True)
        client_thread.start()
        samples, faults_seen, filler = [], {}, None
        start = time.monotonic()
        fill_at, free_at = minutes * 60 / 3, minutes * 60 / 3 + min(120.0, minutes * 60 / 6)
        while (elapsed := time.monotonic() - start) < minutes * 60:
            time.sleep(min(1.0, minutes * 60 - elapsed))
            if filler is None and elapsed >= fill_at:
                filler = fill_disk(storage, fill_mb)
            if filler is not None and filler.exists() and elapsed >= free_at:
                filler.unlink()
            for part, fault in engine.faults.to_dict().items():
                faults_seen.setdefault(part, fault["error"])
            if not samples or elapsed - samples[-1]["seconds"] >= sample_every_s:
                samples.append({"seconds": round(elapsed, 1), "rss_mb": round(resident_mb(), 1),
                                "frames": {c.config.name: c.frames for c in engine.cameras.values()}})
                print(json.dumps(samples[-1]), flush=True)
        stop.set()
        client_thread.join(30)
        health = [c.health() for c in engine.cameras.values()]
        seconds = time.monotonic() - start
        engine.stop()
        server.should_exit = True
        events = engine.store.list(limit=100000)
        rows = {e.id for e in events}
    return {"minutes": minutes, "seconds": round(seconds, 1), "cameras": cameras, "fps_per_camera": fps,
            "storage": "tmpfs of its own" if mounted else "temporary folder (filler capped)", "disk_mb": disk_mb,
            "unplugged": {"camera": names[0], "every_s": period, "for_s": down},
            "per_camera": [{k: h[k] for k in ("camera", "frames", "reconnects", "latency_ms_p50", "latency_ms_p99",
                                              "dropped", "state")} for h in health],
            "events_opened": len(opened), "events_recorded": len(events),
            "events_lost": sorted(set(opened) - rows),
            "media_not_saved": Counter((e.media_error or "").split(":")[0] for e in events if e.media_error),
            "faults_seen": faults_seen, "http": http, "memory": samples, "hardware": hardware()}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def format_soak(r: dict[str, Any]) -> str:
    http = r["http"]
    lines = [f"soak: {r['seconds']:.0f} s, {r['cameras']} cameras at {r['fps_per_camera']:g} frames/s; storage: "
             f"{r['storage']}; {r['unplugged']['camera']} unplugged {r['unplugged']['for_s']:.0f} s of every "
             f"{r['unplugged']['every_s']:.0f} s"]
    lines += [f"  {c['camera']}: {c['frames']} frames, {c['reconnects']} reconnects, "
              f"latency p99 {c['latency_ms_p99']} ms" for c in r["per_camera"]]
    lines.append(f"events: {r['events_opened']} opened, {r['events_recorded']} recorded, {len(r['events_lost'])} lost; "
                 f"media not saved: {dict(r['media_not_saved']) or 'none'}")
    lines.append(f"faults seen: {r['faults_seen'] or 'none'}")
    if http:
        lines.append(f"HTTP: {http['requests']} requests, p99 {http['latency_ms']['p99']:.0f} ms, {http['statuses']}")
    if r["memory"]:
        rss = [m["rss_mb"] for m in r["memory"]]
        lines.append(f"resident memory: {rss[0]:.0f} MB at start, {max(rss):.0f} MB at most, "
                     f"{rss[-1]:.0f} MB at the end")
    return "\n".join(lines)
