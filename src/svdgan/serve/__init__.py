"""`svdgan serve`: watch several cameras live in a browser, review what was flagged, get events
over HTTP and MQTT. One process: the scoring loop over the Detector (engine.py), the event
store (store.py), the clips and snapshots (recorder.py), the web page and API (web.py), MQTT (mqtt.py).
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import IO

from svdgan.errors import UserError
from svdgan.serve.access import Access, allowed_hosts, read_token
from svdgan.serve.config import ServeConfig, demo_config, load_serve_config

MAX_CONNECTIONS = 200  # concurrent HTTP connections; beyond, uvicorn answers 503


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
          storage: str | None = None, certfile: str | None = None, keyfile: str | None = None) -> None:
    """Run until Ctrl-C or SIGTERM."""
    token = read_token(token_file)
    check_binding(host, token)
    if (certfile is None) != (keyfile is None):
        raise UserError("TLS needs both --certfile and --keyfile")
    for path in (certfile, keyfile):
        if path is not None and not Path(path).is_file():
            raise UserError(f"TLS file not found: {path}")
    config: ServeConfig = load_serve_config(config_path) if config_path else demo_config()
    if storage:
        config.storage = storage
    try:
        import uvicorn
    except ImportError:
        raise UserError("svdgan serve needs its web stack: pip install 'svdgan[serve]'") from None
    _check_port(host, port)
    _check_cameras(config)

    from svdgan.serve.engine import Engine
    from svdgan.serve.store import EventStore
    from svdgan.serve.web import create_app

    lock = lock_storage(Path(config.storage))
    store = EventStore(Path(config.storage))
    publisher = None
    if config.mqtt is not None:
        from svdgan.serve.mqtt import MqttPublisher

        publisher = MqttPublisher(config.mqtt)
    engine = Engine(config, store, publisher)
    engine.start()
    scheme = "https" if certfile else "http"
    print(f"svdgan: serving {len(engine.cameras)} camera(s) on {scheme}://{host}:{port}/ "
          f"(events in {config.storage})", file=sys.stderr, flush=True)
    access = Access(token, allowed_hosts(host, config.allowed_hosts), secure=certfile is not None)
    try:
        uvicorn.run(create_app(engine, access=access), host=host, port=port, log_level="warning",
                    limit_concurrency=MAX_CONNECTIONS, ssl_certfile=certfile, ssl_keyfile=keyfile)
    finally:
        engine.stop()
        if publisher is not None:
            publisher.close()
        store.close()
        lock.close()


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
