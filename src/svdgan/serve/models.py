"""Each camera's own model in `svdgan serve`: its memory of normal motion and normal-score statistics,
as the operator's feedback taught them, in versioned files under storage/models/<camera>/.

A version is written whole and atomically (v000001.pt, v000002.pt, ...) before the page hears that
a teaching is done, and never changed; a restart scores each camera with its newest version, so
nothing an operator taught is lost. The oldest versions beyond KEEP_VERSIONS are deleted.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from svdgan.config import MemoryConfig
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory
from svdgan.model.checkpoint import load_checkpoint, save_checkpoint

KEEP_VERSIONS = 20  # versions kept per camera: undoing goes back through what was taught, not through files


def folder(storage: str | Path, camera: str) -> Path:
    """The camera's folder, named so that no camera name reaches outside storage/models/."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", camera)[:40]
    if safe != camera:
        safe += "-" + hashlib.sha256(camera.encode()).hexdigest()[:8]
    return Path(storage) / "models" / safe


def latest(storage: str | Path, camera: str) -> Path | None:
    """The camera's newest model version, or None (never taught)."""
    versions = sorted(folder(storage, camera).glob("v*.pt"))
    return versions[-1] if versions else None


def load(path: Path, config: MemoryConfig) -> tuple[dict[str, Any], MotionMemory]:
    """A version's (statistics, memory)."""
    payload = load_checkpoint(path)
    memory = MotionMemory.from_payload(payload.get("motion"), config)
    if memory is None or "score_stats" not in payload:
        raise UserError(f"{path} is not a camera model of svdgan serve")
    return payload["score_stats"], memory


def save(storage: str | Path, camera: str, stats: dict[str, Any], memory: MotionMemory, base: str) -> Path:
    """The camera's next version, written atomically; returns its path."""
    current = latest(storage, camera)
    number = 1 if current is None else int(current.stem[1:]) + 1
    path = folder(storage, camera) / f"v{number:06d}.pt"
    save_checkpoint(path, {"camera": camera, "base": base, "score_stats": stats, "motion": memory.to_payload()})
    for old in sorted(path.parent.glob("v*.pt"))[:-KEEP_VERSIONS]:
        old.unlink(missing_ok=True)
    return path
