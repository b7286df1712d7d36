"""`svdgan serve`: watch several cameras live in a browser, review what was flagged, get events
over HTTP and MQTT. One process: the scoring loop over the Detector (engine.py), the event
store (store.py on database.py: SQLite, or PostgreSQL), the clips and snapshots (recorder.py),
the web page and API (web.py), MQTT (mqtt.py). Several processes on one PostgreSQL make a site
(site.py): workers that share the cameras through leases, and review pages over all of them.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path
from typing import IO

from svdgan.errors import UserError
from svdgan.serve.access import Access, allowed_hosts, read_token
from svdgan.serve.config import ServeConfig, demo_config, load_serve_config

MAX_CONNECTIONS = 200  # concurrent HTTP connections; beyond, uvicorn answers 503
SITE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # a worker's name: in MQTT topics and the page


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_binding(host: str, token: str | None) -> None:
    """Bound beyond this machine, every request must carry a token: refuse to start without one."""
    if not is_loopback(host) and not token:
        raise UserError(f"binding to {host} exposes the cameras beyond this machine: set SVDGAN_TOKEN or "
                        "pass --token-file, or bind to 127.0.0.1")


def serve(config_path: str | None = None, host: str = "127.0.0.1", port: int = 8080, token_file: str | None = None,
          storage: str | None = None, certfile: str | None = None, keyfile: str | None = None,
          database: str | None = None, worker: str | None = None, review: bool = False,
          advertise: str | None = None) -> None:
    """Run until Ctrl-C or SIGTERM. `database`: a postgresql:// URL (None: the config's, else SQLite
    in storage); `worker`: this process's name on a site (it scores the cameras it leases);
    `review`: a site's review page, scoring nothing; `advertise`: the URL other processes of the
    site reach this one at."""
    token = read_token(token_file)
    check_binding(host, token)
    if (certfile is None) != (keyfile is None):
        raise UserError("TLS needs both --certfile and --keyfile")
    for path in (certfile, keyfile):
        if path is not None and not Path(path).is_file():
            raise UserError(f"TLS file not found: {path}")
    on_site = worker is not None or review
    if worker is not None and review:
        raise UserError("a process is a site's --worker or its --review page, not both")
    config: ServeConfig = load_serve_config(config_path) if config_path else (
        ServeConfig([]) if on_site else demo_config())
    if storage:
        config.storage = storage
    config.database = database or config.database or os.environ.get("SVDGAN_DATABASE") or None
    if on_site and not (config.database or "").startswith(("postgresql", "postgres:")):
        raise UserError("a site's processes share one PostgreSQL database: pass --db postgresql://USER@HOST/NAME "
                        "(or set database: in the config, or $SVDGAN_DATABASE)")
    from svdgan.serve.database import url_for

    url_for(Path(config.storage), config.database)  # a URL of another kind: refused before anything is written
    scheme = "https" if certfile else "http"
    name = worker or (f"review-{socket.gethostname()}-{port}" if review else None)
    if name is not None and not SITE_NAME.match(name):
        raise UserError("--worker NAME: 1-64 letters, digits, '.', '-' or '_'")
    advertise = advertise or f"{scheme}://{socket.gethostname() if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        import uvicorn
    except ImportError:
        raise UserError("svdgan serve needs its web stack: pip install 'svdgan[serve]'") from None
    _check_port(host, port)
    _check_cameras(config)

    from svdgan.serve.engine import Engine
    from svdgan.serve.site import Site, SiteWorker
    from svdgan.serve.store import EventStore
    from svdgan.serve.web import create_app

    lock = lock_storage(Path(config.storage))
    store = EventStore(Path(config.storage), config.database, worker=name)
    publisher = None
    if config.mqtt is not None:
        from svdgan.serve.mqtt import MqttPublisher

        publisher = MqttPublisher(config.mqtt, name)
    engine = Engine(config, store, publisher, on_site=on_site)
    site = Site(store, name, advertise, config.takeover_s, config.renew_s) if name is not None else None
    rounds = None
    if site is not None and worker is not None:
        rounds = SiteWorker(site, engine.start_camera, engine.stop_camera,
                            lambda: [c.health() for c in list(engine.cameras.values())], engine.faults.note)
        engine.may_score = lambda: time.monotonic() < rounds.deadline
    engine.start()
    if rounds is not None:
        rounds.start()
    what = (f"worker {name} of the site in {store.engine.url.render_as_string(hide_password=True)}" if worker
            else "the site's review page" if review else f"{len(engine.cameras)} camera(s)")
    print(f"svdgan: serving {what} on {scheme}://{host}:{port}/ (events in {config.database or config.storage})",
          file=sys.stderr, flush=True)
    access = Access(token, allowed_hosts(host, config.allowed_hosts), secure=certfile is not None)
    # uvicorn stops on SIGTERM, then raises it again under the handler it found: make that one end
    # the process through the clean-up below (open events ended, clips kept, a worker's cameras let go)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        uvicorn.run(create_app(engine, access=access, site=site), host=host, port=port, log_level="warning",
                    limit_concurrency=MAX_CONNECTIONS, ssl_certfile=certfile, ssl_keyfile=keyfile)
    finally:
        if rounds is not None:
            rounds.stop.set()
            rounds.join(15)  # its cameras stopped and let go: the others take them at once
        engine.stop()
        if publisher is not None:
            publisher.close()
        store.close()
        lock.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def lock_storage(folder: Path) -> IO[str]:
    """Hold the storage folder's lock for as long as the returned file is open: a second server on
    the same folder would close this one's events and delete its partial clips, so it is refused.
    The lock goes with the process, so a crashed server leaves none behind."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / "serve.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"{folder} is in use by another svdgan serve ({holder}): give this one its own "
                        "--storage") from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def _check_port(host: str, port: int) -> None:
    """A port in use is bad input, found before any camera is opened."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _check_cameras(config: ServeConfig) -> None:
    """Bad sources or model paths end here, before anything is written."""
    from svdgan.model.checkpoint import default_checkpoint
    from svdgan.sources.open import open_source

    for cam in config.cameras:
        open_source(cam.source)
        model = default_checkpoint(cam.checkpoint or config.checkpoint)
        if not model.is_file():
            raise UserError(f"camera {cam.name}: checkpoint not found: {model}")
