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

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from svdgan.serve.engine import Engine
from svdgan.serve.events import EventStore

MAX_QUERY = 1024  # characters of query string accepted
MJPEG_BOUNDARY = "svdganframe"


class Review(BaseModel):
    reviewed: bool = True


def create_app(engine: Engine, token: str | None = None) -> FastAPI:
    app = FastAPI(title="svdgan serve", version="1", docs_url=None, redoc_url=None,
                  description="Live anomaly scores, events with snapshots and clips, camera health.")
    page = resources.files("svdgan.serve").joinpath("static/index.html").read_text()
    _add_guard(app, token)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    app.include_router(_camera_routes(engine))
    app.include_router(_event_routes(engine.store))
    return app


def _add_guard(app: FastAPI, token: str | None) -> None:
    """Refuse oversized query strings and, with a token, requests that do not carry it."""

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


def _camera_routes(engine: Engine) -> APIRouter:
    """The cameras, their health, recent scores and live frames."""
    router = APIRouter()

    def camera_or_404(name: str) -> Any:
        if name not in engine.cameras:
            raise HTTPException(404, "no such camera")
        return engine.cameras[name]

    @router.get("/api/cameras", summary="The cameras and their alert settings")
    def cameras() -> list[dict[str, Any]]:
        return [{"name": c.config.name, "threshold": c.config.threshold, "min_frames": c.config.min_frames,
                 "ignore": c.config.ignore} for c in engine.cameras.values()]

    @router.get("/api/stats", summary="Health per camera: frames/s, latency p50/p99, dropped frames, reconnects")
    def stats() -> dict[str, Any]:
        return {"cameras": [c.health() for c in engine.cameras.values()], "error": engine.error}

    @router.get("/api/cameras/{name}/scores", summary="The camera's recent scores, for the live curve")
    def scores(name: str, seconds: float = Query(60.0, gt=0, le=3600)) -> dict[str, Any]:
        cam = camera_or_404(name)
        points = list(cam.scores)
        since = points[-1][0] - seconds if points else 0
        return {"threshold": cam.config.threshold, "scores": [p for p in points if p[0] >= since]}

    @router.get("/api/cameras/{name}/frame.jpg", summary="The newest frame with the error heat map")
    def frame(name: str) -> Response:
        cam = camera_or_404(name)
        if cam.jpeg is None:
            raise HTTPException(404, "no frame yet")
        return Response(cam.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @router.get("/api/cameras/{name}/live.mjpg", summary="Live frames with the heat map, as MJPEG")
    async def live(name: str, frames: int = Query(0, ge=0, le=100000)) -> StreamingResponse:
        cam = camera_or_404(name)
        return StreamingResponse(_mjpeg_parts(cam, frames),
                                 media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}")

    return router


async def _mjpeg_parts(cam: Any, frames: int) -> AsyncIterator[bytes]:
    """The camera's newest frames as MJPEG parts (`frames` of them; 0: until the client leaves)."""
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


def _event_routes(store: EventStore) -> APIRouter:
    """Events, their media and their review."""
    router = APIRouter()

    def event_or_404(event_id: int) -> Any:
        event = store.get(event_id)
        if event is None:
            raise HTTPException(404, "no such event")
        return event

    @router.get("/api/events", summary="Events, newest first, filtered")
    def events(camera: str | None = Query(None, max_length=64), since: float | None = None,
               until: float | None = None, reviewed: bool | None = None,
               limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return [e.to_dict() for e in store.list(camera, since, until, reviewed, limit)]

    @router.get("/api/events/{event_id}", summary="One event, with its score curve")
    def event(event_id: int) -> dict[str, Any]:
        return event_or_404(event_id).to_dict(curve=True)

    def media(event_id: int, kind: str, media_type: str) -> FileResponse:
        event_or_404(event_id)
        path = store.media_path(event_id, kind)  # from the database, never from the request
        if path is None:
            raise HTTPException(404, f"no {kind} (yet)")
        return FileResponse(path, media_type=media_type)

    @router.get("/api/events/{event_id}/clip", summary="The event's clip (WebM)")
    def clip(event_id: int) -> FileResponse:
        return media(event_id, "clip", "video/webm")

    @router.get("/api/events/{event_id}/snapshot", summary="The peak frame beside its heat map (JPEG)")
    def snapshot(event_id: int) -> FileResponse:
        return media(event_id, "snapshot", "image/jpeg")

    @router.post("/api/events/{event_id}/review", summary="Mark an event reviewed (or not)")
    def review(event_id: int, body: Review) -> dict[str, Any]:
        event_or_404(event_id)
        store.set_reviewed(event_id, body.reviewed)
        return event_or_404(event_id).to_dict()

    return router
