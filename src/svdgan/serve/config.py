"""`svdgan serve`'s configuration: cameras, storage, retention, MQTT, from YAML.

    storage: serve_data              # events.db and media/ (snapshots, clips)
    checkpoint: null                 # default model for every camera (null: each learns its own; shipped: Ped2's)
    mode: exact                      # a generator's streaming: exact or fast (only for a model with one)
    precision: auto                  # a generator's arithmetic: auto, fp32 or bf16 (only for a model with one)
    retention: {max_age_hours: 168, max_mb: 2000, min_free_mb: 500}  # max_mb: all of storage
    clip: {pre_seconds: 3, post_seconds: 3, max_seconds: 300}  # an event longer than max_seconds is split
    mqtt: {enabled: false, host: 127.0.0.1, port: 1883, topic_prefix: svdgan,
           username: null, password_file: null, tls: false, ca_certs: null}  # password: or $SVDGAN_MQTT_PASSWORD
    allowed_hosts: [cams.example.org]  # Host names the page may be reached by, besides loopback and --host
    database: null                   # null: SQLite in storage; postgresql://USER@HOST/NAME (or --db)
    site: {takeover_seconds: 30, renew_seconds: 5}  # workers on one PostgreSQL: a stopped worker's cameras move
    cameras:
      - name: lobby
        source: rtsp://cam/stream    # anything `svdgan detect` reads, or synthetic:SEED
        threshold: 1.0               # normalised score (1.0 = the worst normal frame)
        min_frames: 3                # frames in a row above it that open an event
        end_frames: 10               # frames in a row not above it that end one
        checkpoint: lobby.pt         # a model from `svdgan train` on this camera's normal footage
        learn: 10m                   # with no checkpoint: learn its normal from its first 10 min (or 90s, 3000)
        ignore: [[0.0, 0.0, 0.2, 0.3]]   # regions not scored: x0, y0, x1, y1 as fractions of the frame
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svdgan.config import read_yaml_mapping
from svdgan.defaults import (
    END_FRAMES,
    LEARN,
    MAX_EVENT_SECONDS,
    MIN_FRAMES,
    MODE,
    PRECISION,
    RENEW_S,
    TAKEOVER_S,
    THRESHOLD,
)
from svdgan.errors import UserError
from svdgan.scoring.fit import learn_frames
from svdgan.serve.mqtt import MqttSettings, check_prefix

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # camera names appear in URLs and MQTT topics
HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")  # a DNS name or an address, no port


@dataclass
class CameraConfig:
    name: str
    source: str
    threshold: float = THRESHOLD
    min_frames: int = MIN_FRAMES
    checkpoint: str | None = None
    ignore: list[tuple[float, float, float, float]] = field(default_factory=list)
    fps: float = 10.0  # synthetic sources only: frames per second
    end_frames: int = END_FRAMES  # frames in a row not above the threshold that end an event
    learn: str = LEARN  # with no checkpoint: its own footage learnt first, as frames ("3000") or time ("10m")


@dataclass
class ServeConfig:
    cameras: list[CameraConfig]
    storage: str = "serve_data"
    checkpoint: str | None = None
    mode: str = MODE
    precision: str = PRECISION
    max_age_hours: float = 168.0
    max_mb: float = 2000.0  # every byte under storage: media, clips being written, the database
    min_free_mb: float = 500.0  # the disk's free space kept, deleting the oldest events first
    pre_seconds: float = 3.0
    post_seconds: float = 3.0
    max_event_seconds: float = MAX_EVENT_SECONDS  # a longer event (and its clip) is closed and the next one opened
    mqtt: MqttSettings | None = None  # None: no MQTT
    allowed_hosts: list[str] = field(default_factory=list)  # besides loopback and the bound address
    database: str | None = None  # None: SQLite in storage; a postgresql:// URL (a site's, or one server's)
    takeover_s: float = TAKEOVER_S  # a site: a camera whose worker stopped is scored by another within this
    renew_s: float = RENEW_S  # a site: how often a worker renews its cameras' leases


def demo_config(storage: str = "serve_data") -> ServeConfig:
    """No config given: a synthetic camera with an anomaly now and then, which learns its normal first
    (a minute of its footage), then watches."""
    return ServeConfig([CameraConfig("synthetic", "synthetic:0", fps=10.0, learn="60s")], storage=storage)


def _number(value: Any, key: str, low: float, high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise UserError(f"bad serve config: {key} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _camera(item: Any, index: int) -> CameraConfig:
    return camera_config(item, f"cameras[{index}]")


def camera_config(item: Any, where: str) -> CameraConfig:
    """A camera's settings, checked, from the config file's `where` (or a camera added on the page)."""
    if not isinstance(item, dict):
        raise UserError(f"bad serve config: {where} must be a mapping")
    unknown = set(item) - {"name", "source", "threshold", "min_frames", "end_frames", "checkpoint", "ignore",
                      "fps", "learn"}
    if unknown:
        raise UserError(f"bad serve config: unknown key {where}.{sorted(unknown)[0]}")
    name, source = item.get("name"), item.get("source")
    if not isinstance(name, str) or not NAME.match(name):
        raise UserError(f"bad serve config: {where}.name must be 1-64 letters, digits, '-' or '_'")
    if not isinstance(source, (str, int)) or str(source) == "":
        raise UserError(f"bad serve config: {where}.source is required")
    ignore = []
    for box in item.get("ignore") or []:
        if (not isinstance(box, (list, tuple)) or len(box) != 4
                or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in box)
                or not (box[0] < box[2] and box[1] < box[3])):
            raise UserError(f"bad serve config: {where}.ignore boxes are [x0, y0, x1, y1] fractions, x0 < x1, y0 < y1")
        ignore.append(tuple(float(v) for v in box))
    checkpoint = item.get("checkpoint")
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise UserError(f"bad serve config: {where}.checkpoint must be a path")
    frames = {}
    for key, default in (("min_frames", MIN_FRAMES), ("end_frames", END_FRAMES)):
        frames[key] = item.get(key, default)
        if isinstance(frames[key], bool) or not isinstance(frames[key], int) or frames[key] < 1:
            raise UserError(f"bad serve config: {where}.{key} must be an integer >= 1")
    learn = str(item.get("learn", LEARN))
    try:
        learn_frames(learn, 10.0)
    except UserError as exc:
        raise UserError(f"bad serve config: {where}.learn: {exc}") from None
    return CameraConfig(name, str(source), _number(item.get("threshold", THRESHOLD), f"{where}.threshold", 0),
                        frames["min_frames"], checkpoint, ignore,
                        _number(item.get("fps", 10.0), f"{where}.fps", 0.1, 1000), frames["end_frames"], learn)


def _mqtt(section: dict[str, Any]) -> MqttSettings:
    unknown = set(section) - {"enabled", "host", "port", "topic_prefix", "username", "password_file", "tls", "ca_certs"}
    if unknown:
        raise UserError(f"bad serve config: unknown key mqtt.{sorted(unknown)[0]}")
    username = section.get("username")
    password = os.environ.get("SVDGAN_MQTT_PASSWORD")
    if section.get("password_file"):
        try:
            password = Path(section["password_file"]).read_text().strip()
        except OSError as exc:
            raise UserError(f"bad serve config: mqtt.password_file: {exc.strerror}") from None
    ca_certs = section.get("ca_certs")
    if ca_certs is not None and not Path(ca_certs).is_file():
        raise UserError(f"bad serve config: mqtt.ca_certs not found: {ca_certs}")
    port = int(_number(section.get("port", 1883), "mqtt.port", 1, 65535))
    prefix = check_prefix(str(section.get("topic_prefix", "svdgan")))
    return MqttSettings(str(section.get("host", "127.0.0.1")), port, prefix,
                        None if username is None else str(username), password, bool(section.get("tls", False)),
                        ca_certs)


def load_serve_config(path: str | Path) -> ServeConfig:
    data = read_yaml_mapping(path, "serve config")
    unknown = set(data) - {"storage", "checkpoint", "mode", "precision", "retention", "clip", "mqtt", "cameras",
                           "allowed_hosts", "database", "site"}
    if unknown:
        raise UserError(f"bad serve config: unknown key {sorted(unknown)[0]}")
    cameras = data.get("cameras", [] if data.get("database") else None)
    if not isinstance(cameras, list) or not (cameras or data.get("database")):
        raise UserError("bad serve config: cameras must be a non-empty list (a site's worker may have none)")
    config = ServeConfig([_camera(c, i) for i, c in enumerate(cameras)])
    names = [c.name for c in config.cameras]
    if len(set(names)) != len(names):
        raise UserError("bad serve config: camera names must be unique")
    config.storage = str(data.get("storage", config.storage))
    config.checkpoint = data.get("checkpoint")
    config.mode = data.get("mode", MODE)
    if config.mode not in ("exact", "fast"):
        raise UserError("bad serve config: mode must be exact or fast")
    config.precision = data.get("precision", PRECISION)
    if config.precision not in ("auto", "fp32", "bf16"):
        raise UserError("bad serve config: precision must be auto, fp32 or bf16")
    retention = data.get("retention") or {}
    clip = data.get("clip") or {}
    mqtt = data.get("mqtt") or {}
    for section, value in (("retention", retention), ("clip", clip), ("mqtt", mqtt)):
        if not isinstance(value, dict):
            raise UserError(f"bad serve config: {section} must be a mapping")
    config.max_age_hours = _number(retention.get("max_age_hours", 168.0), "retention.max_age_hours", 0)
    config.max_mb = _number(retention.get("max_mb", 2000.0), "retention.max_mb", 0)
    config.min_free_mb = _number(retention.get("min_free_mb", 500.0), "retention.min_free_mb", 0)
    config.pre_seconds = _number(clip.get("pre_seconds", 3.0), "clip.pre_seconds", 0, 60)
    config.post_seconds = _number(clip.get("post_seconds", 3.0), "clip.post_seconds", 0, 60)
    config.max_event_seconds = _number(clip.get("max_seconds", MAX_EVENT_SECONDS), "clip.max_seconds", 1, 86400)
    config.mqtt = _mqtt(mqtt) if mqtt.get("enabled", False) else None
    hosts = data.get("allowed_hosts") or []
    if not isinstance(hosts, list) or not all(isinstance(h, str) and HOST.match(h) for h in hosts):
        raise UserError("bad serve config: allowed_hosts must be a list of host names")
    config.allowed_hosts = [h.lower() for h in hosts]
    database = data.get("database")
    if database is not None and not isinstance(database, str):
        raise UserError("bad serve config: database must be a URL (postgresql://USER@HOST/NAME)")
    config.database = database
    site = data.get("site") or {}
    if not isinstance(site, dict) or set(site) - {"takeover_seconds", "renew_seconds"}:
        raise UserError("bad serve config: site takes takeover_seconds and renew_seconds")
    config.takeover_s = _number(site.get("takeover_seconds", TAKEOVER_S), "site.takeover_seconds", 2, 3600)
    config.renew_s = _number(site.get("renew_seconds", RENEW_S), "site.renew_seconds", 0.2, 600)
    if config.renew_s >= config.takeover_s / 3:
        raise UserError("bad serve config: site.renew_seconds must be under a third of site.takeover_seconds")
    return config
