"""The web page and HTTP API of `svdgan serve` (FastAPI; the OpenAPI description is at /openapi.json).

Safe by default: files are found from the database by event id, never from request text; every
request passes `access.Access`'s checks (Host, same origin for changes, the token as a bearer
header or a login cookie) before any handler runs; oversized query strings and bodies are
refused; live MJPEG viewers are bounded; every answer carries security headers.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any, Literal
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel

from svdgan.defaults import LEARN
from svdgan.errors import UserError
from svdgan.serve.access import SECURITY_HEADERS, SESSION_COOKIE, SESSION_SECONDS, Access
from svdgan.serve.config import camera_config
from svdgan.serve.engine import Engine
from svdgan.serve.site import Site
from svdgan.serve.store import EventStore, StoreError

MAX_QUERY = 1024  # characters of query string accepted
MAX_BODY = 16 * 1024  # bytes of request body accepted (a review or a login is a few dozen)
MJPEG_BOUNDARY = "svdganframe"
MJPEG_PER_CAMERA, MJPEG_TOTAL = 8, 32  # live viewers at once
NO_STORE = "private, no-store"  # live frames, clips and snapshots: never in a shared or disk cache
FORWARDED_LOGIN = "X-Svdgan-Login"  # a verdict passed on within a site: the login it came from
REMOTE_TIMEOUT_S = 5.0  # a site: another worker's answer (a clip, a frame, a verdict) waited for this long
LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>svdgan: log in</title>
<style>body{{font:15px system-ui,sans-serif;background:#111;color:#eee;margin:3em}}input{{font-size:15px}}</style>
</head><body><h3>svdgan</h3><form method="post" action="/login">
<label>Token <input name="token" type="password" autocomplete="current-password" autofocus></label>
<button type="submit">Log in</button></form><p id="message">{message}</p></body></html>"""


class Review(BaseModel):
    reviewed: bool = True


class NewCamera(BaseModel):
    name: str
    source: str
    fps: float = 10.0  # a synthetic source's rate (others keep theirs)
    threshold: float = 1.0
    learn: str = LEARN  # its normal learnt from this much of its footage first: frames ("600"), "90s", "10m"


class LearnMore(BaseModel):
    learn: str = LEARN


class Feedback(BaseModel):
    label: Literal["normal", "anomaly"] | None  # None: the verdict given before is undone


def create_app(engine: Engine, token: str | None = None, access: Access | None = None,
               site: Site | None = None) -> FastAPI:
    """The app over a running engine. `access`: who may use it (default: loopback names, `token`).
    `site`: the page shows every camera and event of the site; what another worker holds (a live
    frame, a clip, a verdict to teach) is fetched from, or sent to, that worker."""
    app = FastAPI(title="svdgan serve", version="1", docs_url=None, redoc_url=None,
                  description="Live anomaly scores, events with snapshots and clips, camera health.")
    access = access or Access(token)
    page = resources.files("svdgan.serve").joinpath("static/index.html").read_text()
    _add_guard(app, access)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    app.include_router(_login_routes(access))
    remote = Remote(site, access.token)
    app.include_router(_camera_routes(engine, MjpegViewers(), remote))
    app.include_router(_event_routes(engine, remote))
    return app


class Remote:
    """The rest of a site as this process reaches it: who holds a camera, and requests to that worker
    (with the site's token). Without a site, nothing is remote."""

    def __init__(self, site: Site | None, token: str | None):
        self.site, self.token = site, token

    def holder_url(self, camera: str) -> str | None:
        if self.site is None:
            return None
        return next((h.url for h in self.site.holdings() if h.camera == camera and h.holder), None)

    def worker_url(self, worker: str | None) -> str | None:
        if self.site is None or worker is None or worker == self.site.name:
            return None
        return next((w["url"] for w in self.site.workers() if w["name"] == worker and w["alive"]), None)

    def call(self, url: str, path: str, body: dict[str, Any] | None = None, who: str | None = None) -> Response:
        """Another worker's answer to GET (or, with a body, POST) `path`, passed on as it came. `who`:
        the login a verdict came from, recorded by that worker."""
        request = urllib.request.Request(url.rstrip("/") + path, method="GET" if body is None else "POST",
                                         data=None if body is None else json.dumps(body).encode())
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if who is not None:
            request.add_header(FORWARDED_LOGIN, who)
        try:
            with urllib.request.urlopen(request, timeout=REMOTE_TIMEOUT_S) as answer:  # noqa: S310 (the site's own URLs)
                return Response(answer.read(), status_code=answer.status, headers={"Cache-Control": NO_STORE},
                                media_type=answer.headers.get("Content-Type"))
        except urllib.error.HTTPError as exc:
            return Response(exc.read(), status_code=exc.code, media_type=exc.headers.get("Content-Type"))
        except (urllib.error.URLError, OSError) as exc:
            raise HTTPException(502, f"the worker at {url} did not answer: {exc}") from None


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _who(request: Request) -> str:
    """The login a change came from, for the feedback record: how it authenticated, and from where
    (a verdict another process of the site passed on: the login it named, and that process)."""
    forwarded = request.headers.get(FORWARDED_LOGIN)
    if forwarded and request.headers.get("authorization"):  # only a holder of the site's token passes one on
        return f"{forwarded[:200]} via {_client(request)}"
    if request.cookies.get(SESSION_COOKIE):
        kind = "session " + request.cookies[SESSION_COOKIE][:8]  # a prefix names the login, never its secret whole
    elif request.headers.get("authorization"):
        kind = "bearer token"
    else:
        kind = "no token"
    return f"{kind} from {_client(request)}"


def _add_guard(app: FastAPI, access: Access) -> None:
    """Every request: size limits, Host, same origin for changes, then the token; headers on every answer."""

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        response = _refusal(request, access)
        if response is None:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _refusal(request: Request, access: Access) -> Response | None:
    """The answer to a request that may not go on, or None."""
    if len(request.url.query) > MAX_QUERY:
        return JSONResponse({"detail": "query string too long"}, status_code=414)
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        return JSONResponse({"detail": "request body too large"}, status_code=413)
    host = request.headers.get("host")
    if not access.host_allowed(host):  # a rebound DNS name, or a proxy that was not configured
        return JSONResponse({"detail": "unknown Host: add it to the config's allowed_hosts"}, status_code=421)
    if not access.same_origin(request.method, dict(request.headers), host, request.url.scheme):
        return JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
    if request.url.path in ("/login", "/logout") or access.authenticated(
            request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE)):
        return None
    wait = access.wait(_client(request))
    if wait > 0:
        return JSONResponse({"detail": "too many failed attempts"}, status_code=429,
                            headers={"Retry-After": str(int(wait) + 1)})
    if request.headers.get("authorization"):
        access.failed(_client(request))  # a wrong bearer token counts as a failed attempt
    if request.method == "GET" and request.url.path == "/":
        return RedirectResponse("/login", status_code=303)
    return JSONResponse({"detail": "missing or wrong token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _login_routes(access: Access) -> APIRouter:
    """The login form: the token once, then an HttpOnly, SameSite=Strict session cookie."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_page() -> str:
        return LOGIN_PAGE.format(message="")

    @router.post("/login")
    async def login(request: Request) -> Response:
        client = _client(request)
        wait = access.wait(client)
        if wait > 0:
            return HTMLResponse(LOGIN_PAGE.format(message=f"Too many failed attempts: wait {int(wait) + 1} s."),
                                status_code=429, headers={"Retry-After": str(int(wait) + 1)})
        given = parse_qs((await request.body()).decode(errors="replace")).get("token", [""])[0]
        session = access.login(client, given)
        if session is None:
            return HTMLResponse(LOGIN_PAGE.format(message="Wrong token."), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=access.secure, path="/")
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        access.logout(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return router


class MjpegViewers:
    """Live MJPEG streams open now, per camera and in all: each holds a connection and encodes nothing
    new, but sends every frame, so they are bounded."""

    def __init__(self, per_camera: int = MJPEG_PER_CAMERA, total: int = MJPEG_TOTAL):
        self.per_camera, self.total = per_camera, total
        self.open: dict[str, int] = {}

    def admit(self, camera: str) -> bool:
        if self.open.get(camera, 0) >= self.per_camera or sum(self.open.values()) >= self.total:
            return False
        self.open[camera] = self.open.get(camera, 0) + 1
        return True

    def leave(self, camera: str) -> None:
        self.open[camera] -= 1


def _camera_routes(engine: Engine, viewers: MjpegViewers, remote: Remote) -> APIRouter:
    """The cameras, their health, recent scores and live frames (on a site, every camera's)."""
    router = APIRouter()
    me = remote.site.name if remote.site is not None else None

    def camera_or_404(name: str) -> Any:
        if name not in engine.cameras:
            raise HTTPException(404, "no such camera")
        return engine.cameras[name]

    def elsewhere(name: str) -> str | None:
        """The URL of the worker scoring a camera that is not scored here, or None."""
        return None if name in engine.cameras else remote.holder_url(name)

    @router.get("/api/cameras", summary="The cameras and their alert settings")
    def cameras() -> list[dict[str, Any]]:
        here = [{"name": c.config.name, "threshold": c.config.threshold, "min_frames": c.config.min_frames,
                 "end_frames": c.config.end_frames, "ignore": c.config.ignore, "learning": c.learner is not None,
                 "model": c.model, "worker": me} for c in list(engine.cameras.values())]
        if remote.site is None:
            return here
        known = {c["name"] for c in here}
        holdings = {h.camera: h for h in site_holdings()}
        for cam in engine.store.added_cameras():
            if cam.name not in known:
                holding = holdings.get(cam.name)
                health = (holding.health if holding else None) or {}
                here.append({"name": cam.name, "threshold": cam.threshold, "min_frames": cam.min_frames,
                             "end_frames": cam.end_frames, "ignore": cam.ignore,
                             "learning": health.get("learning") is not None, "model": None,
                             "worker": holding.holder if holding else None})
        return sorted(here, key=lambda c: c["name"])

    def site_holdings() -> list[Any]:
        try:
            return remote.site.holdings() if remote.site is not None else []
        except StoreError as exc:
            engine.faults.failed("site", exc)
            return []

    @router.post("/api/cameras", summary="Add a camera: it learns its normal from its own footage, then watches")
    def add_camera(body: NewCamera) -> dict[str, Any]:
        try:
            cam = camera_config(body.model_dump(), "camera")
            engine.add_camera(cam)
        except UserError as exc:
            raise HTTPException(422, str(exc).removeprefix("bad serve config: ")) from None
        if cam.name not in engine.cameras:  # a site's: the next worker with room takes it
            return {"camera": cam.name, "state": "waiting for a worker", "learning": "waiting", "worker": None}
        return engine.cameras[cam.name].health()

    @router.post("/api/cameras/{name}/learn", summary="Learn more: the scene as it is now added to the same memory")
    def learn_more(name: str, body: LearnMore) -> Any:
        url = elsewhere(name)
        if url is not None:
            return remote.call(url, f"/api/cameras/{quote(name)}/learn", {"learn": body.learn})
        camera_or_404(name)
        try:
            engine.learn_more(name, body.learn)
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None
        return engine.cameras[name].health()

    @router.get("/api/stats", summary="Health per camera (frames/s, latency, reconnecting, stale) and parts that "
                "fail; on a site, every camera's with the worker scoring it, and the workers")
    def stats() -> dict[str, Any]:
        here = [{**c.health(), "worker": me} for c in list(engine.cameras.values())]
        answer: dict[str, Any] = {"cameras": here, "faults": engine.faults.to_dict()}
        if remote.site is not None:
            known = {c["camera"] for c in here}
            for holding in site_holdings():
                if holding.camera not in known:
                    answer["cameras"].append({**(holding.health or {"state": "waiting for a worker", "fps": 0.0}),
                                              "camera": holding.camera, "worker": holding.holder})
            answer["cameras"].sort(key=lambda c: c["camera"])
            try:
                answer["workers"] = remote.site.workers()
            except StoreError as exc:
                engine.faults.failed("site", exc)
        return answer

    @router.get("/api/cameras/{name}/scores", summary="The camera's recent scores, for the live curve")
    def scores(name: str, seconds: float = Query(60.0, gt=0, le=3600)) -> Any:
        url = elsewhere(name)
        if url is not None:
            return remote.call(url, f"/api/cameras/{quote(name)}/scores?seconds={seconds}")
        cam = camera_or_404(name)
        points = list(cam.scores)
        since = points[-1][0] - seconds if points else 0
        return {"threshold": cam.config.threshold, "scores": [p for p in points if p[0] >= since]}

    @router.get("/api/cameras/{name}/frame.jpg", summary="The newest frame with the error heat map")
    def frame(name: str) -> Response:
        url = elsewhere(name)
        if url is not None:
            return remote.call(url, f"/api/cameras/{quote(name)}/frame.jpg")
        cam = camera_or_404(name)
        if cam.jpeg is None:
            raise HTTPException(404, "no frame yet")
        return Response(cam.jpeg, media_type="image/jpeg", headers={"Cache-Control": NO_STORE})

    @router.get("/api/cameras/{name}/live.mjpg", summary="Live frames with the heat map, as MJPEG")
    async def live(name: str, frames: int = Query(0, ge=0, le=100000)) -> StreamingResponse:
        url = await asyncio.to_thread(elsewhere, name)
        cam = RemoteFrames(remote, url, name) if url is not None else camera_or_404(name)
        if not viewers.admit(name):
            raise HTTPException(503, "too many live viewers", headers={"Retry-After": "5"})
        return StreamingResponse(_mjpeg_parts(cam, frames, lambda: viewers.leave(name)),
                                 media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
                                 headers={"Cache-Control": NO_STORE})

    return router


class RemoteFrames:
    """Another worker's camera, seen through its newest frame (fetched at most REMOTE_FPS times a second)."""

    REMOTE_FPS = 4.0

    def __init__(self, remote: Remote, url: str, name: str):
        self.remote, self.url, self.name = remote, url, name
        self.jpeg: bytes | None = None
        self.jpeg_version = 0
        self.fetched = 0.0

    async def refresh(self) -> None:
        if time.monotonic() - self.fetched < 1 / self.REMOTE_FPS:
            return
        self.fetched = time.monotonic()
        try:
            answer = await asyncio.to_thread(self.remote.call, self.url, f"/api/cameras/{quote(self.name)}/frame.jpg")
        except HTTPException:
            return
        if answer.status_code == 200 and answer.body != self.jpeg:
            self.jpeg, self.jpeg_version = bytes(answer.body), self.jpeg_version + 1


async def _mjpeg_parts(cam: Any, frames: int, done: Callable[[], None]) -> AsyncIterator[bytes]:
    """The camera's newest frames as MJPEG parts (`frames` of them; 0: until the client leaves)."""
    sent, version, last = 0, -1, 0.0
    try:
        while frames == 0 or sent < frames:
            if isinstance(cam, RemoteFrames):
                await cam.refresh()
            now = time.monotonic()
            # a new frame, or the same again after a second (a stalled camera still shows its last frame)
            if cam.jpeg is not None and (cam.jpeg_version != version or now - last >= 1.0):
                version, data, last = cam.jpeg_version, cam.jpeg, now
                yield (f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                       ).encode() + data + b"\r\n"
                sent += 1
            await asyncio.sleep(0.05)
    finally:
        done()


def _event_routes(engine: Engine, remote: Remote) -> APIRouter:
    """Events, their media, their review and the operator's verdicts (on a site: every worker's events,
    their media fetched from the worker that recorded them, verdicts sent to the one scoring the camera)."""
    router = APIRouter()
    store: EventStore = engine.store

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

    def media(event_id: int, kind: str, media_type: str) -> Response:
        event = event_or_404(event_id)
        path = store.media_path(event_id, kind)  # from the database, never from the request
        if path is None:
            url = remote.worker_url(event.worker) if getattr(event, kind) else None
            if url is not None:  # recorded by another worker of the site
                return remote.call(url, f"/api/events/{event_id}/{kind}")
            raise HTTPException(404, f"no {kind} (yet)" if event.worker is None or remote.site is None or
                                event.worker == remote.site.name else
                                f"no {kind} here: worker {event.worker}, which recorded it, is not reachable")
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": NO_STORE})

    @router.get("/api/events/{event_id}/clip", summary="The event's clip (WebM)")
    def clip(event_id: int) -> Response:
        return media(event_id, "clip", "video/webm")

    @router.get("/api/events/{event_id}/snapshot", summary="The peak frame beside its heat map (JPEG)")
    def snapshot(event_id: int) -> Response:
        return media(event_id, "snapshot", "image/jpeg")

    @router.post("/api/events/{event_id}/review", summary="Mark an event reviewed (or not)")
    def review(event_id: int, body: Review) -> dict[str, Any]:
        event_or_404(event_id)
        store.set_reviewed(event_id, body.reviewed)
        return event_or_404(event_id).to_dict()

    @router.post("/api/events/{event_id}/feedback",
                 summary="The operator's verdict: normal (its camera learns the event's motion), anomaly "
                 "(confirmed, never deleted by retention) or null (undo)")
    def feedback(event_id: int, body: Feedback, request: Request) -> Any:
        event = event_or_404(event_id)
        if event.camera not in engine.cameras and remote.site is not None:  # taught where the camera is scored
            url = remote.holder_url(event.camera)
            if url is None:
                raise HTTPException(409, f"camera {event.camera} is not scored by any worker now: try again once "
                                    "one has taken it")
            return remote.call(url, f"/api/events/{event_id}/feedback", {"label": body.label}, _who(request))
        try:
            engine.feedback(event_id, body.label, _who(request))
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None
        store.set_reviewed(event_id, True)
        return event_or_404(event_id).to_dict()

    @router.get("/api/feedback", summary="Every verdict given, oldest first: what, when, from which login")
    def feedback_log(camera: str | None = Query(None, max_length=64)) -> list[dict[str, Any]]:
        return store.feedback(camera)

    return router
