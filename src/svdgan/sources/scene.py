"""The synthetic surveillance scene, rendered frame by frame (the synthetic camera and dataset).

A fixed camera looks at a lawn crossed by a horizontal walkway. Normal videos show people
walking along the walkway, in either direction, at walking speed. Each test video also holds
one anomalous event: a cyclist (fast, another shape), a cart (large, another colour), a
person walking across the lawn (off the walkway, perpendicular to the flow), and three that only
one attribute can see: a walker-sized object of another look walking like a walker along the
walkway (appearance), a runner (a walker at three times walking speed: motion), and a person
strolling along the lawn at walking speed (place). The labels are the frames in which the
anomalous object is visible. Everything follows from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ANOMALY_KINDS = ("cyclist", "cart", "lawn_walker", "odd_look", "runner", "lawn_stroller")
ONE_ATTRIBUTE = {"odd_look": "appearance", "runner": "motion", "lawn_stroller": "place"}  # only it sees them
_SHIFT = 4  # cv2 fixed-point bits, for sub-pixel positions
_ONE = 1 << _SHIFT


@dataclass
class SynthConfig:
    width: int = 96
    height: int = 72
    train_videos: int = 8
    test_videos: int = 6
    frames: int = 80
    seed: int = 0
    noise: float = 2.0  # sensor noise, grey levels


@dataclass
class Mover:
    kind: str
    x: float
    y: float
    vx: float
    vy: float
    color: tuple[int, int, int]
    phase: float = 0.0

    def step(self) -> None:
        self.x += self.vx
        self.y += self.vy
        self.phase += abs(self.vx) + abs(self.vy)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


def draw_background(cfg: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Textured lawn with a paved walkway; returns the image and the walkway's top and bottom rows."""
    h, w = cfg.height, cfg.width
    coarse = rng.normal(0, 1, (h // 8 + 2, w // 8 + 2)).astype(np.float32)
    texture = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, 1, (h, w)).astype(np.float32)
    lawn = np.stack([70 + 8 * texture + 4 * fine, 110 + 12 * texture + 5 * fine, 60 + 6 * texture], axis=-1)
    top, bottom = 0.38 * h, 0.72 * h
    image = lawn
    rows = slice(int(top), int(bottom))
    paving = 165 + 6 * fine[rows] + 3 * texture[rows]
    paving[:, ::max(w // 12, 2)] -= 25  # joints between paving slabs
    image[rows] = np.stack([paving, paving, paving * 0.96], axis=-1)
    return np.clip(image, 0, 255), top, bottom


def _draw_person(img: np.ndarray, m: Mover, size: float) -> None:
    body_w, body_h = 0.32 * size, 0.45 * size
    head_r = 0.13 * size
    cx, top = m.x, m.y - size / 2
    cv2.circle(img, _pt(cx, top + head_r), int(head_r * _ONE), (205, 170, 140), -1, cv2.LINE_AA, _SHIFT)
    body_top = top + 2 * head_r
    cv2.rectangle(img, _pt(cx - body_w / 2, body_top), _pt(cx + body_w / 2, body_top + body_h),
                  m.color, -1, cv2.LINE_AA, _SHIFT)
    swing = 0.18 * size * np.sin(m.phase * 0.9)  # legs alternate with the distance walked
    hip = body_top + body_h
    for sign in (-1, 1):
        cv2.line(img, _pt(cx, hip), _pt(cx + sign * swing, top + size), (50, 50, 70),
                 max(1, int(0.1 * size)), cv2.LINE_AA, _SHIFT)


def _draw_cyclist(img: np.ndarray, m: Mover, size: float) -> None:
    r = 0.2 * size
    y_wheel = m.y + size / 2 - r
    for dx in (-0.38 * size, 0.38 * size):
        cv2.circle(img, _pt(m.x + dx, y_wheel), int(r * _ONE), (30, 30, 30), max(1, int(0.06 * size)),
                   cv2.LINE_AA, _SHIFT)
    cv2.line(img, _pt(m.x - 0.38 * size, y_wheel), _pt(m.x + 0.38 * size, y_wheel), (200, 30, 30),
             max(1, int(0.08 * size)), cv2.LINE_AA, _SHIFT)
    rider = Mover("person", m.x, m.y - 0.25 * size, 0, 0, m.color)
    _draw_person(img, rider, 0.75 * size)


def _draw_cart(img: np.ndarray, m: Mover, size: float) -> None:
    w, h = 1.3 * size, 0.75 * size
    cv2.rectangle(img, _pt(m.x - w / 2, m.y - h / 2), _pt(m.x + w / 2, m.y + h / 2), m.color, -1,
                  cv2.LINE_AA, _SHIFT)
    cv2.rectangle(img, _pt(m.x - w / 2, m.y - h / 2), _pt(m.x + w / 2, m.y + h / 2), (40, 40, 40), 1,
                  cv2.LINE_AA, _SHIFT)
    for dx in (-0.35 * w, 0.35 * w):
        cv2.circle(img, _pt(m.x + dx, m.y + h / 2), int(0.12 * size * _ONE), (20, 20, 20), -1,
                   cv2.LINE_AA, _SHIFT)


def _draw_odd_look(img: np.ndarray, m: Mover, size: float) -> None:
    """A walker's size and height, but a checkered box: nothing walks like it here."""
    w, h = 0.34 * size, size
    x0, y0 = m.x - w / 2, m.y - h / 2
    squares = 4
    for row in range(2 * squares):
        for col in range(2):
            colour = (240, 240, 40) if (row + col) % 2 else (20, 20, 160)
            top, left = y0 + row * h / (2 * squares), x0 + col * w / 2
            cv2.rectangle(img, _pt(left, top), _pt(left + w / 2, top + h / (2 * squares)), colour, -1,
                          cv2.LINE_AA, _SHIFT)


def _draw(img: np.ndarray, m: Mover, size: float) -> None:
    {"person": _draw_person, "lawn_walker": _draw_person, "cyclist": _draw_cyclist, "cart": _draw_cart,
     "odd_look": _draw_odd_look, "runner": _draw_person, "lawn_stroller": _draw_person}[m.kind](img, m, size)


def _visible(m: Mover, size: float, cfg: SynthConfig) -> bool:
    return -size < m.x < cfg.width + size and -size < m.y < cfg.height + size


def _pedestrian(rng: np.random.Generator, cfg: SynthConfig, top: float, bottom: float, size: float,
                x: float | None = None) -> Mover:
    direction = rng.choice([-1.0, 1.0])
    if x is None:
        x = -size / 2 if direction > 0 else cfg.width + size / 2
    y = rng.uniform(top + 0.1 * size, bottom - 0.45 * size)  # feet stay on the walkway
    speed = rng.uniform(0.04, 0.06) * size  # a person walks about 5% of their height per frame
    shade = rng.integers(30, 110, 3)
    return Mover("person", x, y, direction * speed, 0.0, (int(shade[0]), int(shade[1]), int(shade[2])),
                 rng.uniform(0, 6))


def _anomaly(kind: str, rng: np.random.Generator, cfg: SynthConfig, top: float, bottom: float,
             size: float) -> Mover:
    direction = rng.choice([-1.0, 1.0])
    x = -size if direction > 0 else cfg.width + size
    y = rng.uniform(top + 0.2 * size, bottom - 0.45 * size)
    if kind == "cyclist":
        return Mover(kind, x, y, direction * 0.2 * size, 0.0, (40, 60, 150))
    if kind == "cart":
        return Mover(kind, x, y, direction * 0.05 * size, 0.0, (230, 190, 30))
    if kind == "odd_look":  # walks as a walker does, where walkers walk
        return Mover(kind, x, y, direction * rng.uniform(0.04, 0.06) * size, 0.0, (0, 0, 0))
    if kind == "runner":  # a walker, three times as fast
        return Mover(kind, x, y, direction * 0.15 * size, 0.0, (60, 40, 90), rng.uniform(0, 6))
    if kind == "lawn_stroller":  # a walker's speed and direction, on the lawn above the walkway
        return Mover(kind, x, rng.uniform(0.5 * size, top - 0.6 * size), direction * rng.uniform(0.04, 0.06) * size,
                     0.0, (90, 40, 40), rng.uniform(0, 6))
    # lawn walker: crosses the lawn top to bottom (or back), away from the walkway's flow
    lawn_x = rng.uniform(0.15, 0.85) * cfg.width
    going_down = rng.random() < 0.5
    y0 = -size / 2 if going_down else cfg.height + size / 2
    return Mover(kind, lawn_x, y0, 0.0, (1 if going_down else -1) * 0.05 * size, (90, 40, 40))


class Scene:
    """The scene as it goes on: walkers come and go, an anomaly is let in when asked."""

    def __init__(self, cfg: SynthConfig, rng: np.random.Generator, background: np.ndarray, top: float,
                 bottom: float):
        self.cfg, self.rng, self.background, self.top, self.bottom = cfg, rng, background, top, bottom
        self.size = 0.2 * cfg.height
        self.people = [_pedestrian(rng, cfg, top, bottom, self.size, x=rng.uniform(0, cfg.width))
                       for _ in range(rng.integers(1, 3))]
        self.odd: Mover | None = None
        self.odd_seen = False  # the anomaly has been in view (once it leaves, it is gone)

    def next(self, anomaly: str | None = None) -> tuple[np.ndarray, bool]:
        """The next frame (RGB uint8), with `anomaly` let in now if given, and whether it shows one."""
        cfg, rng, size = self.cfg, self.rng, self.size
        if rng.random() < 0.06 and len(self.people) < 4:
            self.people.append(_pedestrian(rng, cfg, self.top, self.bottom, size))
        if anomaly is not None:
            self.odd, self.odd_seen = _anomaly(anomaly, rng, cfg, self.top, self.bottom, size), False
        odd = [self.odd] if self.odd else []
        img = self.background.copy()
        for m in sorted(self.people + odd, key=lambda m: m.y):  # far ones first
            _draw(img, m, size)
        img = img + rng.normal(0, cfg.noise, img.shape)
        shows = self.odd is not None and _visible(self.odd, 0.5 * size, cfg) and _on_screen(self.odd, size, cfg)
        for m in self.people + odd:
            m.step()
        self.people = [m for m in self.people if _visible(m, size, cfg)]
        self.odd_seen |= shows
        if self.odd is not None and self.odd_seen and not _visible(self.odd, size, cfg):
            self.odd = None
        return np.clip(img, 0, 255).astype(np.uint8), shows


def render_video(cfg: SynthConfig, rng: np.random.Generator, background: np.ndarray, top: float,
                 bottom: float, anomaly: str | None) -> tuple[list[np.ndarray], list[int]]:
    """Frames (RGB uint8) and the 1-based indices of frames showing the anomaly."""
    scene = Scene(cfg, rng, background, top, bottom)
    odd_start = int(rng.integers(cfg.frames // 5, cfg.frames // 2)) if anomaly else -1
    frames, labels = [], []
    for t in range(cfg.frames):
        frame, shows = scene.next(anomaly if t == odd_start else None)
        frames.append(frame)
        if shows:
            labels.append(t + 1)
    return frames, labels


def _on_screen(m: Mover, size: float, cfg: SynthConfig) -> bool:
    """Whether any part of the object is inside the frame."""
    half = 0.7 * size
    return m.x + half > 0 and m.x - half < cfg.width and m.y + half > 0 and m.y - half < cfg.height
