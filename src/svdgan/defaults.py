"""Every default that more than one command uses, in one place: `evaluate`, `detect`, `serve`, the
Python API and the benchmarks read them from here (docs/configuration.md lists them)."""

from __future__ import annotations

THRESHOLD = 1.0  # an event's frames score above this (normalised: 1.0 = the worst normal frame)
MIN_FRAMES = 3  # frames in a row above the threshold that start an event (its minimum length)
# frames in a row not above the threshold that end an event, so that a dip inside one anomaly does not
# split it (2 s at 5 frames/s; chosen on synthetic cameras 100 to 103: benchmarks/results/events_end_frames.json)
END_FRAMES = 10
NORMALIZE = "train"  # scores in units of the normal footage's (causal, valid live): train, video or none
PRECISION = "auto"  # a generator's arithmetic: bfloat16 where the processor runs it natively, else fp32
MODE = "exact"  # a generator's streaming: exact (= its last T frames) or fast (its state carried)
MAX_EVENT_SECONDS = 300.0  # serve: a longer event is closed and the next one opened (each with its clip)
LEARN = "10m"  # serve: a camera with no model learns its normal from this much of its own footage first
# serve on a site (several workers, one PostgreSQL): a worker renews its cameras' leases this often, and
# a camera whose worker stopped is scored by another within TAKEOVER_S
RENEW_S = 5.0
TAKEOVER_S = 30.0
