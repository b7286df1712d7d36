"""The memory of normal objects: every object seen in normal footage, and how far a new object's
attributes lie from the nearest normal object near the same place, group by group.

Each group is compared in its own space: the object's place (in eighths of the frame height) beside
its attributes standardised by their spread over normal objects, so "nearest" means "alike and
nearby": a walker-sized object is normal where walkers are, large where only small ones were seen.
Each group's distance is standardised by the distances of normal objects from a memory fitted
without their own video, and an object's score is the sum over the groups that are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from svdgan.errors import UserError
from svdgan.memory.folds import folds
from svdgan.memory.nearest import NearestTree
from svdgan.objects.appearance import ObjectGenerator
from svdgan.objects.attributes import DESCRIBED, GROUPS, WIDTHS, SeenObject
from svdgan.objects.background import Background
from svdgan.objects.finder import ObjectFinder
from svdgan.utils.series import standardise

NEAR = 32  # normal objects nearest a place, that an explanation compares an object with
PLACE_SCALE = 8.0  # one unit of place: an eighth of the frame height, as one standard deviation of an attribute


def _stack(objects: Sequence[SeenObject], group: str) -> np.ndarray:
    return np.stack([o.attributes[group] for o in objects]).astype(np.float64) if objects else np.zeros(
        (0, WIDTHS[group]))


class ObjectMemory:
    def __init__(self, places: np.ndarray, attributes: dict[str, np.ndarray],
                 stats: dict[str, dict[str, float]] | None = None):
        self.places = places.astype(np.float64)  # (M, 2) normal objects' centres, in frame heights
        self.attributes = {g: a.astype(np.float64) for g, a in attributes.items()}  # group -> (M, W)
        self.scale = {g: np.maximum(a.std(0), 1e-6) for g, a in self.attributes.items()}  # per attribute
        self.stats = stats or {}  # group -> {mean, std} of normal objects' distances
        self._trees: dict[str, NearestTree] = {}

    @classmethod
    def of(cls, objects: Sequence[SeenObject]) -> ObjectMemory:
        if not objects:
            raise UserError("no moving objects in the normal footage: the object memory needs some")
        groups = [g for g in GROUPS if g in objects[0].attributes]  # `error` with a generator on objects
        return cls(np.stack([o.place for o in objects]), {g: _stack(objects, g) for g in groups})

    def __len__(self) -> int:
        return len(self.places)

    def _space(self, group: str, places: np.ndarray, values: np.ndarray) -> np.ndarray:
        if group == "place":
            return PLACE_SCALE * places
        return np.concatenate([PLACE_SCALE * places, values / self.scale[group]], 1)

    def distances(self, objects: Sequence[SeenObject], group: str, scale: dict[str, np.ndarray] | None = None
                  ) -> np.ndarray:
        """(n,) each object's distance to the nearest normal object in `group`'s space."""
        if not objects:
            return np.zeros(0)
        if group not in self._trees:
            self._trees[group] = NearestTree(self._space(group, self.places, self.attributes[group]))
        places = np.stack([o.place for o in objects]).astype(np.float64)
        return self._trees[group].distances(self._space(group, places, _stack(objects, group)))

    def near(self, place: np.ndarray) -> dict[str, np.ndarray]:
        """The attributes of the normal objects nearest `place` (2,), group -> (k, W)."""
        if "place" not in self._trees:
            self._trees["place"] = NearestTree(self._space("place", self.places, self.attributes["place"]))
        _, index = self._trees["place"].query(PLACE_SCALE * np.asarray(place, np.float64), k=min(NEAR, len(self)))
        index = np.atleast_1d(index)
        return {g: a[index] for g, a in self.attributes.items()}

    def standardised(self, objects: Sequence[SeenObject], group: str) -> np.ndarray:
        return standardise(self.distances(objects, group), self.stats[group])

    def object_scores(self, objects: Sequence[SeenObject], groups: Sequence[str]) -> np.ndarray:
        """(n,) the sum of each object's standardised distances over `groups`."""
        return sum((self.standardised(objects, g) for g in groups), np.zeros(len(objects)))

    def empty_score(self, groups: Sequence[str]) -> float:
        """A frame with no object scores as an object at distance 0 in every group: as normal as can be."""
        return float(sum(standardise(0.0, self.stats[g]) for g in groups))

    def frame_score(self, objects: Sequence[SeenObject], groups: Sequence[str]) -> tuple[float, int | None]:
        """The frame's score, its worst object's, and that object's index (None: no object)."""
        if not objects:
            return self.empty_score(groups), None
        scores = self.object_scores(objects, groups)
        worst = int(np.argmax(scores))
        return float(scores[worst]), worst

    def to_payload(self) -> dict[str, Any]:
        return {"places": torch.from_numpy(self.places.astype(np.float32)),
                "attributes": {g: torch.from_numpy(a.astype(np.float32)) for g, a in self.attributes.items()},
                "stats": self.stats}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ObjectMemory:
        try:
            memory = cls(payload["places"].numpy(), {g: a.numpy() for g, a in payload["attributes"].items()},
                         payload["stats"])
        except (KeyError, AttributeError, TypeError) as exc:
            raise UserError(f"the checkpoint's object memory is malformed: {exc}") from None
        if not set(DESCRIBED) <= set(memory.attributes) <= set(GROUPS) or any(
                len(a) != len(memory) for a in memory.attributes.values()):
            raise UserError("the checkpoint's object memory is malformed: its groups do not match")
        return memory


Distances = dict[str, np.ndarray]  # group -> (n,) the distances of one frame's n objects


def fit_object_memory(videos: list[list[list[SeenObject]]]) -> tuple[ObjectMemory, list[list[Distances]]]:
    """Normal videos' objects (video -> frame -> objects) -> the memory of all of them, with the
    statistics of each group's distances, and those distances per video and frame: each video
    scored against a memory of the others (one video: each quarter against the rest of it)."""
    held_out: list[list[Distances]] = [[{} for _ in video] for video in videos]
    first = next((frame[0] for video in videos for frame in video if frame), None)
    groups = [g for g in GROUPS if first is not None and g in first.attributes]
    for v, part in folds([len(video) for video in videos]):
        rest = [o for j, video in enumerate(videos) for t, frame in enumerate(video)
                if (j != v if len(videos) > 1 else not part.start <= t < part.stop) for o in frame]
        frames = videos[v][part]
        objects = [o for frame in frames for o in frame]
        if not rest or not objects:
            for t in range(part.start, part.stop):
                held_out[v][t] = {g: np.full(len(videos[v][t]), np.nan) for g in groups}
            continue
        memory = ObjectMemory.of(rest)
        bounds = np.cumsum([0] + [len(f) for f in frames])
        for g in groups:
            d = memory.distances(objects, g)
            for k, t in enumerate(range(part.start, part.stop)):
                held_out[v][t][g] = d[bounds[k]:bounds[k + 1]]
    memory = ObjectMemory.of([o for video in videos for frame in video for o in frame])
    for g in groups:
        d = np.concatenate([f[g] for video in held_out for f in video])
        d = d[np.isfinite(d)]
        if not len(d):
            raise UserError("too few moving objects in the normal footage to calibrate the object memory")
        memory.stats[g] = {"mean": float(d.mean()), "std": float(d.std())}
    return memory, held_out


def frame_scores(memory: ObjectMemory, frames: list[Distances], groups: Sequence[str]) -> np.ndarray:
    """(N,) each frame's worst object's summed standardised distance over `groups` (distances as
    fit_object_memory gives them; an object with no distance counts as normal)."""
    empty = memory.empty_score(groups)
    out = np.full(len(frames), empty)
    for t, d in enumerate(frames):
        if d and len(d[groups[0]]):
            z = sum(standardise(d[g], memory.stats[g]) for g in groups)
            out[t] = max(np.nanmax(z) if np.isfinite(z).any() else empty, empty)
    return out


REASONS = {"place": "in an unusual place", "look": "unusual appearance",  # size and motion: see ObjectPart.reason
           "error": "unusual to the generator on objects"}


class ObjectPart:
    """The memory of normal objects as a part of the memory's score: the camera's background, its
    normal objects, the attribute groups used, and with the `error` group the generator on objects."""

    def __init__(self, background: Background, memory: ObjectMemory, groups: Sequence[str],
                 generator: ObjectGenerator | None = None):
        self.background, self.memory, self.groups, self.generator = background, memory, tuple(groups), generator
        if ("error" in self.groups) != (generator is not None) or not set(self.groups) <= set(memory.attributes):
            raise UserError("the object memory's groups do not match its attributes (the `error` group needs "
                            "the generator on objects)")

    def finder(self) -> ObjectFinder:
        return ObjectFinder(self.background)

    def frame_score(self, objects: Sequence[SeenObject]) -> tuple[float, int | None]:
        return self.memory.frame_score(objects, self.groups)

    def reason(self, seen: SeenObject) -> str:
        """What is unusual about an object: its group furthest from normal, worded against the normal
        objects near its place (their median size and speed)."""
        z = {g: float(self.memory.standardised([seen], g)[0]) for g in self.groups}
        group = max(z, key=z.get)
        if group in REASONS:
            return REASONS[group]
        near = self.memory.near(seen.place)
        if group == "size":
            area = float(seen.attributes["size"][:2].sum())  # log h + log w
            return "large for this place" if area > np.median(near["size"][:, :2].sum(1)) else "small for this place"
        speed = float(seen.attributes["motion"][3])  # its 90th-percentile speed
        return "fast for this place" if speed > np.percentile(near["motion"][:, 3], 90) else \
            "unusual motion for this place"

    def to_payload(self) -> dict[str, Any]:
        payload = {"background": self.background.to_payload(), "memory": self.memory.to_payload(),
                   "groups": list(self.groups)}
        if self.generator is not None:
            payload["generator"] = self.generator.to_payload()
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ObjectPart:
        try:
            groups = [str(g) for g in payload["groups"]]
            background, memory = Background.from_payload(payload["background"]), payload["memory"]
        except (KeyError, TypeError):
            raise UserError("the checkpoint's object memory is malformed") from None
        if not groups or set(groups) - set(GROUPS):
            raise UserError("the checkpoint's object memory is malformed: unknown attribute groups")
        generator = payload.get("generator")
        return cls(background, ObjectMemory.from_payload(memory), groups,
                   None if generator is None else ObjectGenerator.from_payload(generator))
