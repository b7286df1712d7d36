"""The memory of normal motion: the cells of normal frames, and a frame's distance to them.

A frame's motion score is its worst cell's distance to the nearest normal cell at the same or a
neighbouring position (nearest neighbours, as PatchCore, with position): a cyclist at walking
pace in a crowd still moves unlike anything that moved *there* before. It holds the statistics
that fuse its score with the generator's and is stored in the checkpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from svdgan.config import MemoryConfig
from svdgan.errors import UserError
from svdgan.memory.explain import PlaceMotion, Why, cell_box, motion_reason
from svdgan.memory.flow import N_FEATURES, FlowCells, cell_features, moving_share, to_grey, video_flows, working_size
from svdgan.memory.look import LookMemory, cell_looks
from svdgan.memory.nearest import NearestTree
from svdgan.memory.objects import ObjectPart
from svdgan.utils.clock import NO_CLOCK, StageClock
from svdgan.utils.series import CausalMean, standardise

if TYPE_CHECKING:
    from svdgan.objects.attributes import SeenObject
    from svdgan.objects.finder import ObjectFinder


def _with_neighbours(cells: torch.Tensor) -> torch.Tensor:
    """(M, D, gh, gw) -> (gh*gw, 9M, D): for each position, the cells at it and its 8 neighbours."""
    m, d, gh, gw = cells.shape
    padded = F.pad(cells, (1, 1, 1, 1), mode="replicate")
    shifted = torch.stack([padded[:, :, y:y + gh, x:x + gw] for y in range(3) for x in range(3)], 1)
    return shifted.permute(3, 4, 0, 1, 2).reshape(gh * gw, m * 9, d)


class MotionMemory:
    """Normal cells (with `memory.look`, the looks of those that moved; with `memory.objects`, normal
    objects) and the statistics that fuse the memory's score with the generator's.

    The memory's score of a frame is its worst cell's distance, smoothed; with more parts (the worst
    moving cell's look, the worst object), the sum of each part's smoothed score in standard
    deviations of its normal scores."""

    def __init__(self, bank: torch.Tensor, config: MemoryConfig, frame_size: tuple[int, int],
                 stats: dict[str, dict[str, float]] | None = None, objects: ObjectPart | None = None,
                 look: LookMemory | None = None, taught: list[torch.Tensor] | None = None,
                 taught_labels: list[str | None] | None = None):
        self.bank = bank.float()  # (M, D, gh, gw)
        # footage an operator marked normal after fitting, one (K, D, gh, gw) tensor a teaching, oldest first,
        # each with its label (serve: the event it came from)
        self.taught = [t.float() for t in taught or []]
        self.taught_labels = list(taught_labels) if taught_labels is not None else [None] * len(self.taught)
        self.config = config
        self.frame_size = tuple(frame_size)  # (h, w) of the grey frames it was fitted on
        # {"generator": {mean, std}, "motion": {mean, std}, "generator_scores", and per part with more than
        # one: "cells", "look", "objects"}
        self.stats = stats or {}
        self.objects = objects
        self.look = look
        self._trees: list[NearestTree] | None = None  # per position: its normal cells and its neighbours'
        self._places: dict[int, PlaceMotion] = {}  # per position, when an explanation first needs it

    def _build(self) -> list[NearestTree]:
        if self._trees is None:
            cells = torch.cat([self.bank, *self.taught]) if self.taught else self.bank
            self._trees = [NearestTree(points, unique=True) for points in _with_neighbours(cells).numpy()]
        return self._trees

    def _nearest(self, queries: np.ndarray) -> np.ndarray:
        """(G, N, D) queries per position -> (G, N) distance to the nearest normal cell there (exact,
        with one k-d tree per position, cheaper than a brute-force search)."""
        return np.stack([tree.distances(q) for tree, q in zip(self._build(), queries)])

    def place_motion(self, position: int) -> PlaceMotion:
        """The normal motion at a cell's `position` (row-major) and its neighbours."""
        if position not in self._places:
            self._places[position] = PlaceMotion.of(self._build()[position].points)
        return self._places[position]

    @property
    def parts(self) -> list[str]:
        """The parts whose scores add up to the memory's: "cells" (their motion), "look", "objects"."""
        return [name for name, used in (("cells", self.config.motion), ("look", self.look is not None),
                                        ("objects", self.objects is not None)) if used]

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.bank.shape[-2:])

    def size(self) -> dict[str, int]:
        """How large the memory is: its normal frames, their cells (one vector each), what a frame is
        searched against (each place's distinct normal cells and its neighbours'), and their bytes."""
        searched = sum(len(tree.points) for tree in self._build())
        frames, features, gh, gw = self.bank.shape
        taught = sum(len(t) for t in self.taught)
        frames += taught
        return {"normal_frames": frames, "taught_frames": taught, "teachings": len(self.taught),
                "cells": frames * gh * gw, "features": features,
                "stored_bytes": frames * features * gh * gw * 2,  # float16 in the model file
                "searched_vectors": searched, "searched_bytes": searched * features * 8,  # float64 k-d trees
                **({"looks": len(self.look.looks)} if self.look is not None else {}),
                **({"objects": len(self.objects.memory)} if self.objects is not None else {})}

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Whether frames of `shape` (H, W, ...) give the memory's grid of cells."""
        h, w = working_size(shape, self.config.height)
        return (h // self.config.cell, w // self.config.cell) == self.grid

    @property
    def generator_stats(self) -> dict[str, Any]:
        """Normal-score statistics of the generator alone, for footage the memory does not fit."""
        if "generator_scores" not in self.stats:
            raise UserError("the motion memory does not fit this footage: fit one on its normal footage "
                            "(`svdgan train`)")
        return self.stats["generator_scores"]

    def distances(self, cells: torch.Tensor, keep: torch.Tensor | None = None) -> np.ndarray:
        """(N, D, gh, gw) -> (N,) each frame's worst cell distance to the nearest normal cell.
        keep (gh, gw): 1 where a cell counts (ignored regions are 0)."""
        return self.cell_distances(cells, keep).max(0).astype(np.float64)

    def cell_distances(self, cells: torch.Tensor, keep: torch.Tensor | None = None) -> np.ndarray:
        """(N, D, gh, gw) -> (gh * gw, N) each cell's distance to the nearest normal cell near it."""
        if tuple(cells.shape[-2:]) != self.grid:
            h, w = self.frame_size
            raise UserError(f"the motion memory was fitted on frames of aspect {w}x{h}, these give another "
                            "grid: fit one on this camera's normal footage (`svdgan train`)")
        n, d, gh, gw = cells.shape
        nearest = self._nearest(cells.float().permute(2, 3, 0, 1).reshape(gh * gw, n, d).numpy())  # (G, N)
        if keep is not None:
            nearest = nearest * keep.reshape(-1, 1).numpy()
        return nearest

    def video_scores(self, greys: np.ndarray, smooth: int) -> np.ndarray:
        """The memory's scores of a whole video of grey frames at its height, pushed as one stream (the
        live path: one arithmetic for a video and a camera)."""
        stream = self.stream(smooth)
        return np.array([stream.push(grey) for grey in greys])

    def combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Each part's smoothed scores -> the memory's score: the cells' alone as they are, or the sum
        of the parts' in standard deviations of their normal scores."""
        if list(parts) == ["cells"]:
            return parts["cells"]
        return sum(standardise(scores, self.stats[name]) for name, scores in parts.items())

    def fuse(self, generator: np.ndarray | None, motion: np.ndarray) -> np.ndarray:
        """Generator + weight x motion, each in standard deviations of its normal scores (no
        generator, `score.generator: false`: the motion's alone)."""
        motion_z = standardise(motion, self.stats["motion"])
        if generator is None:
            return motion_z
        return standardise(generator, self.stats["generator"]) + self.config.weight * motion_z

    def stream(self, smooth: int) -> MotionStream:
        return MotionStream(self, smooth)

    # --- teaching: footage an operator says is normal ------------------------------------------

    def frame_cells(self, images: list[np.ndarray]) -> torch.Tensor:
        """Consecutive RGB frames of this camera -> their cells (N, D, gh, gw), as the live path computes them."""
        if len(images) < 2:
            raise UserError("teaching needs at least 2 consecutive frames (motion is between frames)")
        if not self.fits(images[0].shape):
            h, w = self.frame_size
            raise UserError(f"the motion memory was fitted on frames of aspect {w}x{h}, these are "
                            f"{images[0].shape[1]}x{images[0].shape[0]}: fit a memory on this camera (`svdgan train`)")
        greys = np.stack([to_grey(image, self.config.height) for image in images])
        return video_motion(greys, self.config.cell)[0]

    def taught_with(self, cells: torch.Tensor, label: str | None = None) -> MotionMemory:
        """A new memory that also holds `cells` (N, D, gh, gw) as normal; this one is unchanged (the
        version before). Taught frames are capped at `memory.max_taught`: the oldest teachings leave
        first, and the fitted footage never does."""
        taught = [*self.taught, cells.half().float()]  # as the model file stores it: taught live = reloaded
        labels = [*self.taught_labels, label]
        while len(taught) > 1 and sum(len(t) for t in taught) > self.config.max_taught:
            taught.pop(0)
            labels.pop(0)
        if sum(len(t) for t in taught) > self.config.max_taught:  # one teaching longer than the cap: its newest
            taught = [taught[0][-self.config.max_taught:]]
        return self._with_taught(taught, labels)

    def without_teaching(self, label: str | None = None) -> MotionMemory:
        """The memory without its last teaching (undo), or without the teaching labelled `label`."""
        if not self.taught:
            raise UserError("nothing was taught to this memory: there is nothing to undo")
        index = len(self.taught) - 1 if label is None else next(
            (i for i, found in enumerate(self.taught_labels) if found == label), None)
        if index is None:
            raise UserError(f"{label} is not among what this memory was taught (the oldest teachings leave "
                            "first once memory.max_taught frames are taught): there is nothing to undo")
        return self._with_taught(self.taught[:index] + self.taught[index + 1:],
                                 self.taught_labels[:index] + self.taught_labels[index + 1:])

    def _with_taught(self, taught: list[torch.Tensor], labels: list[str | None]) -> MotionMemory:
        return MotionMemory(self.bank, self.config, self.frame_size, self.stats, self.objects, self.look, taught,
                            labels)

    def to_payload(self) -> dict[str, Any]:
        payload = {"bank": self.bank.half(), "taught": [t.half() for t in self.taught],
                   "taught_labels": self.taught_labels,
                   "frame_size": list(self.frame_size), "stats": self.stats,
                   "config": {"height": self.config.height, "cell": self.config.cell, "weight": self.config.weight,
                              "motion": self.config.motion}}
        if self.objects is not None:
            payload["objects"] = self.objects.to_payload()
        if self.look is not None:
            payload["look"] = self.look.to_payload()
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any] | None, config: MemoryConfig) -> MotionMemory | None:
        if not payload:
            return None
        try:
            saved = MemoryConfig(enabled=True, **payload["config"])
            saved.every, saved.max_frames, saved.max_taught = config.every, config.max_frames, config.max_taught
            objects = payload.get("objects")
            if objects is not None:
                objects = ObjectPart.from_payload(objects)
                saved.objects = objects.groups
            look = payload.get("look")
            if look is not None:
                look = LookMemory.from_payload(look)
            saved.look = look is not None
            memory = cls(payload["bank"], saved, payload["frame_size"], payload["stats"], objects, look,
                         payload.get("taught"), payload.get("taught_labels"))
        except (KeyError, TypeError, RuntimeError) as exc:
            raise UserError(f"the checkpoint's motion memory is malformed: {exc}") from None
        if memory.bank.ndim != 4 or memory.bank.shape[1] != N_FEATURES or any(
                t.shape[1:] != memory.bank.shape[1:] for t in memory.taught):
            raise UserError("the checkpoint's motion memory is malformed: bad bank shape")
        return memory


LOOK_REASON = "unusual appearance for this place"


class Explained(NamedTuple):
    """What explains one frame's memory score: its part furthest from normal, what each part points at
    (the worst cell, look or object) and the frame's shape."""

    part: str
    pointed: dict[str, Any]
    shape: tuple[int, ...]


class MotionStream:
    """One stream's memory score, a frame at a time: its previous grey frame, each part's recent
    scores, and what explains the last frame."""

    def __init__(self, memory: MotionMemory, smooth: int):
        self.memory = memory
        self.flow = FlowCells(memory.config.cell)
        self.previous: np.ndarray | None = None
        self.recent = {name: CausalMean(smooth) for name in memory.parts}
        self.keep: torch.Tensor | None = None
        self.finder = memory.objects.finder() if memory.objects is not None else None
        generator = memory.objects.generator if memory.objects is not None else None
        self.errors = generator.stream() if generator is not None else None  # the objects' `error` attribute
        self.explained: Explained | None = None  # what explains the last frame
        self.cells: torch.Tensor | None = None  # the last frame's cells

    def set_ignore(self, keep: torch.Tensor | None) -> None:
        """keep (S, S) at any size, 1 where scored: cells mostly outside it are not scored."""
        self.keep = None if keep is None else (
            F.adaptive_avg_pool2d(keep.float()[None, None], self.memory.grid)[0, 0] >= 0.5).float()

    def push(self, image: np.ndarray, clock: StageClock = NO_CLOCK) -> float:
        """The frame as read, (H, W, 3) RGB uint8 -> its smoothed memory score; `clock` times each stage."""
        memory, cell = self.memory, self.memory.config.cell
        grey = to_grey(image, memory.config.height)
        if self.previous is not None and self.previous.shape != grey.shape:
            self.previous = None  # the source changed size: start over
        clock.lap("grey")
        flow = self.flow.flow(self.previous, grey)
        clock.lap("flow")
        cells = cell_features(flow, cell)
        self.cells = cells  # (D, gh, gw): this frame's motion, what teaching it as normal adds
        self.previous = grey
        now: dict[str, float] = {}  # each part's score of this frame, before smoothing
        pointed: dict[str, Any] = {}  # and what it points at: the worst cell (or object)
        if memory.config.motion:
            distances = memory.cell_distances(cells[None], self.keep)[:, 0]  # (G,)
            worst = int(distances.argmax())
            now["cells"], pointed["cells"] = float(distances[worst]), (worst, cells.flatten(1)[:, worst].numpy())
        clock.lap("memory")
        if memory.look is not None:
            looks = memory.look.cell_distances(cell_looks(grey, cell)[None], moving_share(cells)[None], self.keep)[:, 0]
            now["look"], pointed["look"] = float(looks.max()), int(looks.argmax())
            clock.lap("look")
        if self.finder is not None:
            objects = [o for o in self.finder.push(grey, flow) if self._kept(o)]
            if self.errors is not None:
                self.errors.push(grey, objects)
            now["objects"], index = memory.objects.frame_score(objects)
            pointed["objects"] = None if index is None else objects[index]
            clock.lap("objects")
        self.explained = Explained(self._explaining(now, pointed), pointed, image.shape)
        smoothed = {name: np.array([self.recent[name].push(score)]) for name, score in now.items()}
        return float(memory.combine(smoothed)[0])

    def _explaining(self, now: dict[str, float], pointed: dict[str, Any]) -> str:
        """The part of this frame's score furthest from normal (an object part with no object cannot be)."""
        candidates = [name for name in now if pointed[name] is not None]
        if len(candidates) == 1 or len(now) == 1:
            return candidates[0] if candidates else next(iter(now))
        return max(candidates, key=lambda name: standardise(now[name], self.memory.stats[name]))

    def _kept(self, seen: SeenObject) -> bool:
        """Whether an object's centre lies in a scored cell (not in an ignored region)."""
        if self.keep is None:
            return True
        x, y, w, h = seen.box
        gh, gw = self.keep.shape
        cell = self.memory.config.cell
        return bool(self.keep[min(int(y + h / 2) // cell, gh - 1), min(int(x + w / 2) // cell, gw - 1)] > 0)

    @property
    def why(self) -> Why | None:
        """What made the last frame's worst cell (or object) unusual, and where (None before the first frame)."""
        return None if self.explained is None else self.explain(self.explained)

    def explain(self, explained: Explained) -> Why | None:
        """What made a frame unusual and where, from what its push pointed at (worded only when asked:
        the place's normal motion is looked up then)."""
        part, pointed, shape = explained
        config = self.memory.config
        if part == "objects" and pointed["objects"] is not None:
            seen = pointed["objects"]
            scale = shape[0] / config.height
            x, y, w, h = (round(v * scale) for v in seen.box)
            return Why(self.memory.objects.reason(seen), (x, y, w, h))
        if part == "look":
            return Why(LOOK_REASON, cell_box(pointed["look"], self.memory.grid, config.cell, config.height, shape))
        if "cells" not in pointed:  # the memory does not score motion and nothing else points anywhere
            return None
        position, features = pointed["cells"]
        return Why(motion_reason(features, self.memory.place_motion(position)),
                   cell_box(position, self.memory.grid, config.cell, config.height, shape))


def video_looks(greys: np.ndarray, cell: int) -> torch.Tensor:
    """A video's grey frames -> each frame's cell looks (N, N_LOOK, gh, gw)."""
    return torch.stack([cell_looks(grey, cell) for grey in greys])


def video_motion(greys: np.ndarray, cell: int, finder: ObjectFinder | None = None
                 ) -> tuple[torch.Tensor, list[list[SeenObject]] | None]:
    """A video's grey frames -> its cells (N, N_FEATURES, gh, gw) and, given an object finder, each
    frame's objects (from one optical flow per frame)."""
    cells, seen = [], []
    for grey, flow in video_flows(greys):
        cells.append(cell_features(flow, cell))
        if finder is not None:
            seen.append(finder.push(grey, flow))
    if not cells:
        raise UserError("no frames to compute motion from")
    return torch.stack(cells), seen if finder is not None else None
