"""`svdgan detect`: score every frame of one or more sources as it arrives, raise alerts.

One reader thread per source decodes frames (`sources.reader`); the main loop takes the newest
frame of every source that has one and scores them in one batch through the live pipeline,
writing each frame's event line and, if asked, the annotated video.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch

from svdgan.errors import UserError
from svdgan.live.alerts import END_FRAMES, event, latency_summary, write_event
from svdgan.live.overlay import AnnotatedVideo
from svdgan.live.pipeline import LiveModel, LivePipeline, ScoredFrame, StreamingScorer
from svdgan.scoring.stream import StreamScorer
from svdgan.sources.reader import SourceReader, next_frames
from svdgan.sources.video import Source, open_source
from svdgan.utils.precision import choose_precision


@dataclass
class DetectOptions:
    """What `svdgan detect` does besides scoring: its command-line options."""

    mode: str = "exact"  # exact or fast
    threshold: float = 1.0  # 1.0: the worst normal training frame
    min_frames: int = 3  # frames above the threshold in a row before an alert
    events_path: str | Path | None = None  # JSON lines; None: standard output
    output: str | Path | None = None  # annotated video (one per source: name_k.ext)
    max_frames: int | None = None  # stop after this many frames in all
    threads: int = 0  # torch threads; 0: torch's default
    backend: str = "torch"  # torch or onnxruntime
    onnx_path: str | Path | None = None  # onnxruntime: this model (default: exported for the run)
    precision: str = "auto"  # auto, fp32 or bf16
    end_frames: int = END_FRAMES  # frames in a row not above the threshold that end an alert


def detect(specs: list[str], checkpoint: str | Path | None = None,
           options: DetectOptions | None = None) -> dict[str, Any]:
    """Run detection until every source ends (or Ctrl-C); returns the summary."""
    options = options or DetectOptions()
    if options.min_frames < 1:
        raise UserError("--min-frames must be at least 1")
    if options.end_frames < 1:
        raise UserError("--end-frames must be at least 1")
    model = LiveModel.load(checkpoint)
    if options.threads:
        torch.set_num_threads(options.threads)
    precision, precision_note = choose_precision(options.precision) if options.backend == "torch" else ("fp32", None)
    sources = [open_source(spec) for spec in specs]
    with ExitStack() as temporary:
        pipeline = LivePipeline(model, _scorer(model, options, temporary, precision))
        for source in sources:
            pipeline.add_source(source.name, options.threshold, options.min_frames, end_frames=options.end_frames)
        return _run(sources, pipeline, options, precision_note)


def _scorer(model: LiveModel, options: DetectOptions, temporary: ExitStack, precision: str) -> StreamingScorer:
    if options.backend == "torch":
        return StreamScorer(model.generator, model.config, options.mode, precision)
    if options.backend != "onnxruntime":
        raise UserError("--backend must be torch or onnxruntime")
    if options.mode != "exact":
        raise UserError("the onnxruntime backend runs the exact mode only")
    from svdgan.deploy.onnx import OnnxStreamScorer, export_onnx

    onnx_path = options.onnx_path
    if onnx_path is None:  # export the checkpoint for this run
        import tempfile

        onnx_path = Path(temporary.enter_context(tempfile.TemporaryDirectory())) / "model.onnx"
        export_onnx(model.path, onnx_path, check=False)
    elif not Path(onnx_path).is_file():
        raise UserError(f"ONNX model not found: {onnx_path}")
    return OnnxStreamScorer(onnx_path, model.config)


@dataclass
class _Tally:
    """Frames, alerts and latencies of a run, per source."""

    frames: list[int]
    anomalous: list[int]
    latencies: list[float] = field(default_factory=list)

    def add(self, stream: int, anomalous: bool, latency: float) -> None:
        self.frames[stream] += 1
        self.anomalous[stream] += anomalous
        self.latencies.append(latency)


def _run(sources: list[Source], pipeline: LivePipeline, options: DetectOptions,
         precision_note: str | None) -> dict[str, Any]:
    readers = [SourceReader(source) for source in sources]
    tally = _Tally([0] * len(sources), [0] * len(sources))
    start = time.perf_counter()
    interrupted = False
    with ExitStack() as stack:
        events: IO[str] = stack.enter_context(open(options.events_path, "w")) if options.events_path else sys.stdout
        videos = [stack.enter_context(AnnotatedVideo(_output_path(Path(options.output), k, len(sources)),
                                                     options.threshold))
                  for k in range(len(sources))] if options.output else []
        for reader in readers:
            reader.start()
        try:
            for batch in next_frames(readers):
                if precision_note:  # said with the first frame: bad input before it gets its error line alone
                    print(precision_note, file=sys.stderr)
                    precision_note = None
                scored = pipeline.score([(i, frame) for i, frame, _ in batch])
                done = time.perf_counter()
                for (i, _, arrived), result in zip(batch, scored):
                    tally.add(i, result.anomalous, done - arrived)
                    why = result.why.to_dict() if result.why else None
                    write_event(events, event(result.source, result.frame, result.time, result.score,
                                              result.anomalous, why))
                    if videos:
                        _annotate(videos[i], sources[i], result)
                if options.max_frames and sum(tally.frames) >= options.max_frames:
                    break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for reader in readers:
                reader.stop.set()
        events.flush()
    return _summary(sources, readers, tally, options, time.perf_counter() - start, interrupted)


def _annotate(video: AnnotatedVideo, source: Source, result: ScoredFrame) -> None:
    if video.writer is None:
        video.fps = source.fps or video.fps
    video.write(result.image, result.error_map, result.score, result.anomalous, result.why)


def _summary(sources: list[Source], readers: list[SourceReader], tally: _Tally, options: DetectOptions,
             seconds: float, interrupted: bool) -> dict[str, Any]:
    """The run's summary; a run where every source failed before a frame was scored is an error."""
    errors = [f"{r.source.name}: {r.error}" for r in readers if r.error]
    if errors and not sum(tally.frames):
        if options.events_path and Path(options.events_path).stat().st_size == 0:
            Path(options.events_path).unlink()  # nothing was scored: leave no empty events file behind
        raise UserError("; ".join(errors))
    for message in errors:
        print(f"svdgan: {message}", file=sys.stderr)
    frames = sum(tally.frames)
    return {"frames": frames, "seconds": round(seconds, 3), "fps": frames / seconds if seconds > 0 else 0.0,
            "mode": options.mode, "latency_ms": latency_summary(tally.latencies), "threshold": options.threshold,
            "min_frames": options.min_frames, "end_frames": options.end_frames,
            "sources": [{"source": s.name, "frames": c, "anomalous_frames": a, "dropped": r.dropped}
                        for s, c, a, r in zip(sources, tally.frames, tally.anomalous, readers)],
            "interrupted": interrupted}


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
