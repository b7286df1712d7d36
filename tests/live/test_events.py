"""The EventTracker: events from a source's scores, as detect, serve and the benchmarks raise them."""

import numpy as np
import pytest

from svdgan.errors import UserError
from svdgan.live.events import EventTracker
from svdgan.memory.explain import Why
from svdgan.scoring.detector import ScoredFrame


def frames(scores, fps=10.0):
    image = np.zeros((4, 4, 3), np.uint8)
    return [ScoredFrame("cam", t, t / fps, float(s), float(s), image,
                        explain=lambda t=t: Why(f"reason {t}", (t, 0, 1, 1))) for t, s in enumerate(scores)]


def run(tracker, scores, fps=10.0):
    """Every change, as (kind, frame it happened at, start, end, peak), and the alert state per frame."""
    changes, states = [], []
    for f in frames(scores, fps):
        for c in tracker.update(f):
            changes.append((c.kind, f.frame, c.event.start_frame, c.event.end_frame, c.event.peak_frame))
        states.append(f.anomalous)
    changes += [(c.kind, None, c.event.start_frame, c.event.end_frame, c.event.peak_frame) for c in tracker.finish()]
    return changes, states


def test_an_event_needs_min_frames_above_the_threshold_and_starts_at_the_first_of_them():
    changes, states = run(EventTracker("cam", 1.0, min_frames=3, end_frames=1), [2, 2, 0, 2, 3, 2, 2, 0])
    assert changes == [("start", 5, 3, 5, 4), ("end", 7, 3, 6, 4)]
    assert states == [False, False, False, False, False, True, True, False]


def test_end_frames_holds_an_event_through_a_short_dip_and_ends_it_at_its_last_frame_above():
    changes, states = run(EventTracker("cam", 1.0, min_frames=2, end_frames=3), [2, 2, 0, 0, 5, 0, 0, 0, 0, 2])
    assert changes == [("start", 1, 0, 1, 0), ("peak", 4, 0, 4, 4), ("end", 7, 0, 4, 4)]
    # once ended it needs min_frames above the threshold again: the last single frame starts nothing
    assert states == [False, True, True, True, True, True, True, False, False, False]


def test_a_score_at_the_threshold_is_not_above_it_and_an_open_event_ends_with_its_source():
    changes, _ = run(EventTracker("cam", 1.0, min_frames=1, end_frames=5), [1.0, 1.5, 1.0])
    assert changes == [("start", 1, 1, 1, 1), ("end", None, 1, 1, 1)]


def test_an_event_longer_than_max_seconds_is_split_and_the_next_starts_at_once():
    changes, _ = run(EventTracker("cam", 1.0, min_frames=2, end_frames=2, max_seconds=0.5), [2] * 12)
    starts = [c for c in changes if c[0] == "start"]
    assert [c[2] for c in starts] == [0, 6] and [c[0] for c in changes].count("end") == 2


def test_an_event_says_what_its_peak_frame_says_and_writes_the_keys_detect_promises():
    tracker = EventTracker("cam", 1.0, min_frames=1, end_frames=1)
    events = [c.event for f in frames([0, 2, 4, 3, 0]) for c in tracker.update(f) if c.kind == "end"]
    record = events[0].to_dict()
    assert {"source", "start_frame", "end_frame", "peak_frame", "peak_score", "reason"} <= set(record)
    assert (record["start_frame"], record["end_frame"], record["peak_frame"], record["peak_score"]) == (1, 3, 2, 4.0)
    assert record["reason"] == "reason 2" and record["box"] == [2, 0, 1, 1]


def test_bad_lengths_are_refused():
    with pytest.raises(UserError, match="at least 1"):
        EventTracker("cam", min_frames=0)
