"""`svdgan detect`: score every frame of one or more sources as it arrives, raise alerts.

One reader thread per source decodes frames into a queue (a live source keeps only its newest
frame, so a slow model skips frames instead of falling behind; a file loses none). The main
loop takes the newest frame of every source that has one and scores them in one batch.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from .alerts import Alarm, event, latency_summary, write_event
from .checkpoint import default_checkpoint, load_generator
from .data.frames import resize, to_model_range
from .errors import UserError
from .motion import MotionMemory, SourceScores, load_memory
from .overlay import AnnotatedVideo
from .precision import choose_precision
from .sources import Frame, Source, open_source
from .stream import StreamScorer

_END = object()


class SourceReader(threading.Thread):
    def __init__(self, source: Source):
        super().__init__(daemon=True)
        self.source = source
        self.queue: queue.Queue = queue.Queue(maxsize=1 if source.live else 8)
        self.error: str | None = None
        self.dropped = 0
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for frame in self.source.frames():
                item = (frame, time.perf_counter())
                if self.source.live:
                    while True:  # keep only the newest frame
                        try:
                            self.queue.put_nowait(item)
                            break
                        except queue.Full:
                            try:
                                self.queue.get_nowait()
                                self.dropped += 1
                            except queue.Empty:
                                pass
                else:
                    while not self.stop.is_set():
                        try:
                            self.queue.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                if self.stop.is_set():
                    break
        except UserError as exc:
            self.error = str(exc)
        self.queue.put(_END)


def next_frames(readers: list[SourceReader]) -> Iterator[list[tuple[int, Frame, float]]]:
    """The next frame of every source that has one; waits while none has."""
    active = set(range(len(readers)))
    while active:
        batch = []
        for i in sorted(active):
            try:
                item = readers[i].queue.get_nowait()
            except queue.Empty:
                continue
            if item is _END:
                active.discard(i)
            else:
                batch.append((i, *item))
        if batch:
            yield batch
        elif active:
            time.sleep(0.001)


def detect(specs: list[str], checkpoint: str | Path | None = None, mode: str = "exact",
           threshold: float | None = None, min_frames: int = 3, events_path: str | Path | None = None,
           output: str | Path | None = None, max_frames: int | None = None, threads: int = 0,
           backend: str = "torch", onnx_path: str | Path | None = None, precision: str = "auto") -> dict[str, Any]:
    """Run detection until every source ends (or Ctrl-C); returns the summary."""
    if min_frames < 1:
        raise UserError("--min-frames must be at least 1")
    checkpoint = default_checkpoint(checkpoint)
    generator, config, payload = load_generator(checkpoint)
    stats = payload.get("score_stats")
    if not stats:
        raise UserError("the checkpoint has no normal-score statistics: finish training or run svdgan calibrate")
    memory = load_memory(payload, config)
    if threads:
        torch.set_num_threads(threads)
    precision, precision_note = choose_precision(precision) if backend == "torch" else ("fp32", None)
    threshold = 1.0 if threshold is None else threshold  # 1.0: the worst normal training frame
    sources = [open_source(spec) for spec in specs]
    with ExitStack() as temporary:
        scorer = _scorer(generator, config, mode, backend, checkpoint, onnx_path, temporary, precision)
        return _run(sources, scorer, config, stats, mode, threshold, min_frames, events_path, output, max_frames,
                    precision_note, memory)


def _scorer(generator: Any, config: Any, mode: str, backend: str, checkpoint: Path,
            onnx_path: str | Path | None, temporary: ExitStack, precision: str = "fp32") -> Any:
    if backend == "torch":
        return StreamScorer(generator, config, mode, precision)
    if backend != "onnxruntime":
        raise UserError("--backend must be torch or onnxruntime")
    if mode != "exact":
        raise UserError("the onnxruntime backend runs the exact mode only")
    from .export import OnnxStreamScorer, export_onnx

    if onnx_path is None:  # export the checkpoint for this run
        import tempfile

        onnx_path = Path(temporary.enter_context(tempfile.TemporaryDirectory())) / "model.onnx"
        export_onnx(checkpoint, onnx_path, check=False)
    elif not Path(onnx_path).is_file():
        raise UserError(f"ONNX model not found: {onnx_path}")
    return OnnxStreamScorer(onnx_path, config)


def _run(sources: list[Source], scorer: Any, config: Any, stats: dict, mode: str, threshold: float,
         min_frames: int, events_path: str | Path | None, output: str | Path | None,
         max_frames: int | None, precision_note: str | None = None,
         memory: MotionMemory | None = None) -> dict[str, Any]:
    alarms = [Alarm(threshold, min_frames) for _ in sources]
    scoring = [SourceScores(memory, stats, config.score.smooth, s.name) for s in sources]
    readers = [SourceReader(source) for source in sources]
    latencies: list[float] = []
    counts = [0] * len(sources)
    anomalous = [0] * len(sources)
    start = time.perf_counter()
    interrupted = False
    with ExitStack() as stack:
        events: IO[str] = (stack.enter_context(open(events_path, "w")) if events_path else sys.stdout)
        videos = []
        if output:
            videos = [stack.enter_context(AnnotatedVideo(_output_path(Path(output), k, len(sources)), threshold))
                      for k in range(len(sources))]
        for reader in readers:
            reader.start()
        try:
            for batch in next_frames(readers):
                if precision_note:  # said with the first frame: bad input before it gets its error line alone
                    print(precision_note, file=sys.stderr)
                    precision_note = None
                ids = [i for i, _, _ in batch]
                x = to_model_range(np.stack([resize(f.image, config.model.size, config.model.channels)
                                             for _, f, _ in batch]))
                result = scorer.push(x, ids)
                scores = [scoring[i].score(result.scores[j], f.image) for j, (i, f, _) in enumerate(batch)]
                done = time.perf_counter()
                for j, (i, frame, arrived) in enumerate(batch):
                    latencies.append(done - arrived)
                    flag = alarms[i].update(float(scores[j]))
                    counts[i] += 1
                    anomalous[i] += flag
                    write_event(events, event(sources[i].name, frame.index, frame.time, scores[j], flag))
                    if videos:
                        if videos[i].writer is None:
                            videos[i].fps = sources[i].fps or videos[i].fps
                        videos[i].write(frame.image, result.errors[j, 0].numpy(), float(scores[j]), flag)
                if max_frames and sum(counts) >= max_frames:
                    break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for reader in readers:
                reader.stop.set()
        events.flush()
    errors = [f"{r.source.name}: {r.error}" for r in readers if r.error]
    seconds = time.perf_counter() - start
    summary = {"frames": sum(counts), "seconds": round(seconds, 3),
               "fps": sum(counts) / seconds if seconds > 0 else 0.0, "mode": mode,
               "latency_ms": latency_summary(latencies), "threshold": threshold, "min_frames": min_frames,
               "sources": [{"source": s.name, "frames": c, "anomalous_frames": a, "dropped": r.dropped}
                           for s, c, a, r in zip(sources, counts, anomalous, readers)],
               "interrupted": interrupted}
    if errors and not sum(counts):
        if events_path and Path(events_path).stat().st_size == 0:
            Path(events_path).unlink()  # nothing was scored: leave no empty events file behind
        raise UserError("; ".join(errors))
    for message in errors:
        print(f"svdgan: {message}", file=sys.stderr)
    return summary


def _output_path(path: Path, k: int, n: int) -> Path:
    return path if n == 1 else path.with_name(f"{path.stem}_{k}{path.suffix}")


def format_summary(summary: dict[str, Any]) -> str:
    lat = summary["latency_ms"]
    lines = [f"{summary['frames']} frames in {summary['seconds']:.1f} s: {summary['fps']:.1f} frames/s "
             f"({summary['mode']} mode)",
             f"latency per frame (ms): mean {lat['mean']:.1f}, variance {lat['var']:.1f}, p50 {lat['p50']:.1f}, "
             f"p99 {lat['p99']:.1f}, worst {lat['max']:.1f}"]
    for s in summary["sources"]:
        lines.append(f"  {s['source']}: {s['frames']} frames, {s['anomalous_frames']} flagged anomalous"
                     + (f", {s['dropped']} skipped to stay live" if s["dropped"] else ""))
    return "\n".join(lines) + "\n" + json.dumps(summary)
