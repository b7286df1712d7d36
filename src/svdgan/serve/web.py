"""The web page and HTTP API of `svdgan serve` (FastAPI; the OpenAPI description is at /openapi.json).

Safe by default: files are found from the database by event id, never from request text; with
a token, every request must carry it (`Authorization: Bearer T`, or `?token=T` for the page's
images and videos); oversized query strings are refused before any handler runs.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from .engine import Engine

MAX_QUERY = 1024  # characters of query string accepted
MJPEG_BOUNDARY = "svdganframe"


class Review(BaseModel):
    reviewed: bool = True


def create_app(engine: Engine, token: str | None = None) -> FastAPI:
    app = FastAPI(title="svdgan serve", version="1", docs_url=None, redoc_url=None,
                  description="Live anomaly scores, events with snapshots and clips, camera health.")
    store = engine.store
    page = resources.files("svdgan.serve").joinpath("static/index.html").read_text()

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if len(request.url.query) > MAX_QUERY:
            return JSONResponse({"detail": "query string too long"}, status_code=414)
        if token is not None:
            header = request.headers.get("authorization", "")
            given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"detail": "missing or wrong token"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    def camera_or_404(name: str) -> Any:
        if name not in engine.cameras:
            raise HTTPException(404, "no such camera")
        return engine.cameras[name]

    def event_or_404(event_id: int) -> Any:
        event = store.get(event_id)
        if event is None:
            raise HTTPException(404, "no such event")
        return event

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/api/cameras", summary="The cameras and their alert settings")
    def cameras() -> list[dict[str, Any]]:
        return [{"name": c.config.name, "threshold": c.config.threshold, "min_frames": c.config.min_frames,
                 "ignore": c.config.ignore} for c in engine.cameras.values()]

    @app.get("/api/stats", summary="Health per camera: frames/s, latency p50/p99, dropped frames, reconnects")
    def stats() -> dict[str, Any]:
        return {"cameras": [c.health() for c in engine.cameras.values()], "error": engine.error}

    @app.get("/api/cameras/{name}/scores", summary="The camera's recent scores, for the live curve")
    def scores(name: str, seconds: float = Query(60.0, gt=0, le=3600)) -> dict[str, Any]:
        cam = camera_or_404(name)
        points = list(cam.scores)
        since = points[-1][0] - seconds if points else 0
        return {"threshold": cam.config.threshold, "scores": [p for p in points if p[0] >= since]}

    @app.get("/api/cameras/{name}/frame.jpg", summary="The newest frame with the error heat map")
    def frame(name: str) -> Response:
        cam = camera_or_404(name)
        if cam.jpeg is None:
            raise HTTPException(404, "no frame yet")
        return Response(cam.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/cameras/{name}/live.mjpg", summary="Live frames with the heat map, as MJPEG")
    async def live(name: str, frames: int = Query(0, ge=0, le=100000)) -> StreamingResponse:
        cam = camera_or_404(name)

        async def parts() -> AsyncIterator[bytes]:
            sent, version, last = 0, -1, 0.0
            while frames == 0 or sent < frames:
                now = time.monotonic()
                # a new frame, or the same again after a second (a stalled camera still shows its last frame)
                if cam.jpeg is not None and (cam.jpeg_version != version or now - last >= 1.0):
                    version, data, last = cam.jpeg_version, cam.jpeg, now
                    yield (f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                           ).encode() + data + b"\r\n"
                    sent += 1
                await asyncio.sleep(0.05)

        return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}")

    @app.get("/api/events", summary="Events, newest first, filtered")
    def events(camera: str | None = Query(None, max_length=64), since: float | None = None,
               until: float | None = None, reviewed: bool | None = None,
               limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return [e.to_dict() for e in store.list(camera, since, until, reviewed, limit)]

    @app.get("/api/events/{event_id}", summary="One event, with its score curve")
    def event(event_id: int) -> dict[str, Any]:
        return event_or_404(event_id).to_dict(curve=True)

    def media(event_id: int, kind: str, media_type: str) -> FileResponse:
        event_or_404(event_id)
        path = store.media_path(event_id, kind)  # from the database, never from the request
        if path is None:
            raise HTTPException(404, f"no {kind} (yet)")
        return FileResponse(path, media_type=media_type)

    @app.get("/api/events/{event_id}/clip", summary="The event's clip (WebM)")
    def clip(event_id: int) -> FileResponse:
        return media(event_id, "clip", "video/webm")

    @app.get("/api/events/{event_id}/snapshot", summary="The peak frame beside its heat map (JPEG)")
    def snapshot(event_id: int) -> FileResponse:
        return media(event_id, "snapshot", "image/jpeg")

    @app.post("/api/events/{event_id}/review", summary="Mark an event reviewed (or not)")
    def review(event_id: int, body: Review) -> dict[str, Any]:
        event_or_404(event_id)
        store.set_reviewed(event_id, body.reviewed)
        return event_or_404(event_id).to_dict()

    return app
