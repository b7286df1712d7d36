"""Each camera's own model in `svdgan serve`: its memory of normal motion and normal-score statistics,
as it learnt them from its footage and the operator's feedback taught them, in numbered versions
(v000001, v000002, ...) in the database, where every worker of a site reaches them.

A version is committed whole (or not at all) before the page hears that a teaching is done, and
never changed; a restart, or a worker taking the camera over, scores it with its newest version, so
nothing an operator taught is lost. The oldest versions beyond KEEP_VERSIONS are deleted. What a
camera gathers while it learns is a file under storage/models/<camera>/ on the worker learning it.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from svdgan.config import MemoryConfig
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory
from svdgan.model.checkpoint import FORMAT

if TYPE_CHECKING:
    from svdgan.serve.store import EventStore

KEEP_VERSIONS = 20  # versions kept per camera: undoing goes back through what was taught, not through files


def folder(storage: str | Path, camera: str) -> Path:
    """The camera's folder of work in progress, named so that no camera name reaches outside storage/models/."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", camera)[:40]
    if safe != camera:
        safe += "-" + hashlib.sha256(camera.encode()).hexdigest()[:8]
    return Path(storage) / "models" / safe


def name(version: int) -> str:
    return f"v{version:06d}"


def latest(store: EventStore, camera: str) -> str | None:
    """The camera's newest version's name, or None (never learnt nor taught)."""
    version = store.model_version(camera)
    return None if version is None else name(version)


def load(store: EventStore, camera: str, config: MemoryConfig) -> tuple[str, dict[str, Any], MotionMemory] | None:
    """The camera's newest (version name, statistics, memory), or None."""
    found = store.latest_model(camera)
    if found is None:
        return None
    version, data = found
    payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    memory = MotionMemory.from_payload(payload.get("motion"), config) if payload.get("format") == FORMAT else None
    if memory is None or "score_stats" not in payload:
        raise UserError(f"camera {camera}: its model {name(version)} is not a camera model of svdgan serve")
    return name(version), payload["score_stats"], memory


def save(store: EventStore, camera: str, stats: dict[str, Any], memory: MotionMemory, base: str) -> str:
    """The camera's next version, committed in one transaction; returns its name."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "camera": camera, "base": base, "score_stats": stats,
                "motion": memory.to_payload()}, buffer)
    return name(store.save_model(camera, buffer.getvalue(), base, KEEP_VERSIONS))


def adopt_files(store: EventStore, storage: str | Path, camera: str) -> None:
    """A camera's model from before versions were kept in the database (files v000001.pt, ...):
    its newest file becomes its first version there."""
    files = sorted(folder(storage, camera).glob("v*.pt"))
    if files and store.model_version(camera) is None:
        store.save_model(camera, files[-1].read_bytes(), f"{files[-1].name} from storage", KEEP_VERSIONS)
