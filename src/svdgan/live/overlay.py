"""The annotated video of `svdgan detect --output`: frame, error heat map, score curve, alert state."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from svdgan.errors import UserError
from svdgan.memory.explain import Why

PANEL = 256  # height of the frame and heat-map panels
CURVE_HEIGHT = 96
CURVE_FRAMES = 200  # score history shown
FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".mov": "mp4v"}


def heat_map(errors: np.ndarray, size: tuple[int, int], scale: float) -> np.ndarray:
    """(S, S) per-pixel squared error -> (h, w, 3) BGR colour map; `scale` maps to the hottest colour."""
    level = np.clip(errors / max(scale, 1e-12), 0, 1)
    level = cv2.resize((level * 255).astype(np.uint8), size, interpolation=cv2.INTER_LINEAR)
    return cv2.applyColorMap(level, cv2.COLORMAP_JET)


def mark(canvas: np.ndarray, why: Why, scale: float) -> None:
    """Draw what made a frame unusual on it (BGR, drawn at `scale` times the frame as read): its box
    and the reason beside it."""
    x, y, w, h = (round(v * scale) for v in why.box)
    cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 0, 255), 2)
    text_y = y - 6 if y > 18 else min(y + h + 16, canvas.shape[0] - 4)
    cv2.putText(canvas, why.reason, (max(x, 2), text_y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1, cv2.LINE_AA)


def error_scale(errors: np.ndarray | None) -> float:
    """The error that a heat map shows as its hottest colour (none without a generator)."""
    return 1e-6 if errors is None else max(float(np.percentile(errors, 99.9)), 1e-6)


def with_heat(frame: np.ndarray, errors: np.ndarray | None, scale: float, weight: float) -> np.ndarray:
    """The BGR frame with the generator's error heat map over it at `weight`; a model with no
    generator has no errors (None), and its frame is shown as it is."""
    if errors is None or not errors.any():
        return frame.copy()
    heat = heat_map(errors, (frame.shape[1], frame.shape[0]), scale)
    return cv2.addWeighted(frame, 1 - weight, heat, weight, 0)


class AnnotatedVideo:
    """Writes to a hidden temporary file and moves it into place when closed (also after Ctrl-C);
    after an error the partial file is removed."""

    def __init__(self, path: Path, threshold: float, fps: float = 10.0):
        suffix = path.suffix.lower()
        if suffix not in FOURCC:
            raise UserError(f"--output must end in one of {', '.join(FOURCC)}")
        self.path, self.threshold, self.fps = path, threshold, fps
        self.tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        self.writer: cv2.VideoWriter | None = None
        self.scores: deque[float] = deque(maxlen=CURVE_FRAMES)
        self.error_scale = 0.0

    def __enter__(self) -> AnnotatedVideo:
        if not self.path.parent.is_dir():
            raise UserError(f"output folder does not exist: {self.path.parent}")
        return self

    def write(self, image: np.ndarray, errors: np.ndarray | None, score: float, anomalous: bool,
              why: Why | None = None) -> None:
        h, w = image.shape[:2]
        width = max(2, round(w * PANEL / h / 2) * 2)
        frame = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), (width, PANEL))
        if anomalous and why is not None:
            mark(frame, why, width / w)
        self.error_scale = max(self.error_scale * 0.99, error_scale(errors))
        heat = with_heat(frame, errors, self.error_scale, 0.6)
        self.scores.append(score)
        canvas = np.vstack([np.hstack([frame, heat]), self._curve(2 * width, anomalous)])
        colour = (0, 0, 255) if anomalous else (0, 160, 0)
        cv2.rectangle(canvas, (0, 0), (canvas.shape[1] - 1, canvas.shape[0] - 1), colour, 4)
        label = f"ANOMALY  score {score:.2f}" if anomalous else f"normal  score {score:.2f}"
        cv2.putText(canvas, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)
        if self.writer is None:
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*FOURCC[self.path.suffix.lower()]),
                                          self.fps, (canvas.shape[1], canvas.shape[0]))
            if not self.writer.isOpened():
                raise UserError(f"cannot write video {self.path}")
            self.size = (canvas.shape[1], canvas.shape[0])
        if (canvas.shape[1], canvas.shape[0]) != self.size:
            canvas = cv2.resize(canvas, self.size)
        self.writer.write(canvas)

    def _curve(self, width: int, anomalous: bool) -> np.ndarray:
        """The recent scores against the threshold (dashed), scaled so both are visible."""
        strip = np.full((CURVE_HEIGHT, width, 3), 24, np.uint8)
        top = max(max(self.scores), self.threshold * 1.5, 1e-6)

        def y(value: float) -> int:
            return int(CURVE_HEIGHT - 4 - (CURVE_HEIGHT - 8) * min(max(value / top, 0), 1))

        for x in range(0, width, 12):
            cv2.line(strip, (x, y(self.threshold)), (x + 6, y(self.threshold)), (0, 200, 255), 1)
        points = np.array([[int(i * (width - 1) / (CURVE_FRAMES - 1)), y(s)] for i, s in enumerate(self.scores)],
                          np.int32)
        cv2.polylines(strip, [points], False, (0, 0, 255) if anomalous else (255, 255, 255), 1, cv2.LINE_AA)
        return strip

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if self.writer is not None:
            self.writer.release()
        failed = exc_type is not None and not issubclass(exc_type, KeyboardInterrupt)
        if self.tmp.exists():
            if failed:
                self.tmp.unlink()
            else:
                os.replace(self.tmp, self.path)
