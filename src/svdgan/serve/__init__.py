"""`svdgan serve`: watch several cameras live in a browser, review what was flagged, get events
over HTTP and MQTT. One process: the scoring loop (engine.py), the event store (../events.py),
the clips and snapshots (../recorder.py), the web page and API (web.py), MQTT (mqtt.py).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

from svdgan.errors import UserError
from svdgan.serve.config import ServeConfig, demo_config, load_serve_config


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_binding(host: str, token: str | None) -> None:
    """Bound beyond this machine, every request must carry a token: refuse to start without one."""
    if not is_loopback(host) and not token:
        raise UserError(f"binding to {host} exposes the cameras beyond this machine: pass --token "
                        "(or set SVDGAN_TOKEN), or bind to 127.0.0.1")


def serve(config_path: str | None = None, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
          storage: str | None = None) -> None:
    """Run until Ctrl-C or SIGTERM."""
    token = token or os.environ.get("SVDGAN_TOKEN") or None
    check_binding(host, token)
    config: ServeConfig = load_serve_config(config_path) if config_path else demo_config()
    if storage:
        config.storage = storage
    try:
        import uvicorn
    except ImportError:
        raise UserError("svdgan serve needs its web stack: pip install 'svdgan[serve]'") from None
    with socket.socket() as probe:  # a port in use is bad input, found before any camera is opened
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None

    from svdgan.model.checkpoint import default_checkpoint
    from svdgan.serve.engine import Engine
    from svdgan.serve.events import EventStore
    from svdgan.serve.web import create_app
    from svdgan.sources.video import open_source

    for cam in config.cameras:  # bad sources or model paths end here, before anything is written
        open_source(cam.source)
        model = default_checkpoint(cam.checkpoint or config.checkpoint)
        if not model.is_file():
            raise UserError(f"camera {cam.name}: checkpoint not found: {model}")

    store = EventStore(Path(config.storage))
    publisher = None
    if config.mqtt:
        from svdgan.serve.mqtt import MqttPublisher

        publisher = MqttPublisher(config.mqtt_host, config.mqtt_port, config.topic_prefix)
    engine = Engine(config, store, publisher)
    engine.start()
    print(f"svdgan: serving {len(engine.cameras)} camera(s) on http://{host}:{port}/ "
          f"(events in {config.storage})", file=sys.stderr, flush=True)
    try:
        uvicorn.run(create_app(engine, token), host=host, port=port, log_level="warning")
    finally:
        engine.stop()
        if publisher is not None:
            publisher.close()
        store.close()
