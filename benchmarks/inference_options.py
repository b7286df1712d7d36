"""What makes scoring faster on this CPU: the options measured for the exact and fast modes.

    python -m benchmarks.inference_options [--frames 30] [--rounds 3]
        [--json benchmarks/results/inference_options.json]

On the paper's architecture (128 px, 3 channels or, with --channels 1, grayscale as the Ped2
recipe; random weights: time does not depend on their values), each option is timed on the
same stream, in `rounds` interleaved rounds (a shared machine's speed drifts: the median over
rounds is reported, with the range), as frames/s, the
ratio to the default and the fraction of the measured convolution peak:
    default           fp32, torch's threads, the last layer in the form timed fastest at load
    1 thread          torch.set_num_threads(1)
    last layer separate / dense / taps   each form of the generator's last layer forced
    oneDNN off        torch's own convolution kernels instead of oneDNN's
    torch.compile     the decoder compiled by inductor (frozen weights); compile time reported
    onnxruntime       exact mode on the exported window model (`svdgan detect --backend onnxruntime`)
    onnxruntime int8  the same model statically quantised to int8, calibrated on the stream's frames
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from svdgan.config import Config
from svdgan.evaluation.generator_speed import conv_throughput, random_frames, stream_flops, time_stream
from svdgan.model.checkpoint import save_checkpoint
from svdgan.model.generator import Generator, fuse_for_inference
from svdgan.model.layers import FORMS, SeparableConv2d
from svdgan.scoring.stream import StreamScorer
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware


@contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _last_layer(generator: Generator, form: str) -> Iterator[None]:
    last = generator.decoder.out[0]
    before = last.form
    last.form = form
    try:
        yield
    finally:
        last.form = before


def _fps(scorer_for: Callable[[], Any], frames: torch.Tensor, warm: int = 9) -> float:
    scorer = scorer_for()
    time_stream(scorer, frames[:warm])
    times = time_stream(scorer_for(), frames)
    return len(times) / sum(times)


def _onnx_models(generator: Generator, config: Config, frames: torch.Tensor, tmp: Path) -> dict[str, Path]:
    """The exported window model and its int8 static quantisation (calibrated on `frames`)."""
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from svdgan.deploy.onnx import export_onnx

    ckpt = tmp / "model.pt"
    save_checkpoint(ckpt, {"config": config.to_dict(), "generator": generator.state_dict(), "step": 0})
    fp32 = tmp / "model.onnx"
    export_onnx(ckpt, fp32, check=False)
    t_len = config.model.clip_len

    class Windows(CalibrationDataReader):
        def __init__(self) -> None:
            ends = range(t_len - 1, len(frames), 4)
            self.items = iter([{"frames": frames[None, e - t_len + 1:e + 1].numpy(),
                                "mask": np.ones((1, t_len), np.float32)} for e in ends])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    int8 = tmp / "model_int8.onnx"
    quantize_static(str(fp32), str(int8), Windows(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return {"fp32": fp32, "int8": int8}


def _options(generator: Generator, compiled: Generator, config: Config,
             onnx_paths: dict[str, Path]) -> list[tuple[str, str, Callable[[], Any], Callable[[], Any]]]:
    """(option, mode, a context manager factory, a scorer factory) for every timed combination."""
    from contextlib import nullcontext

    combos = []
    for mode in ("fast", "exact"):
        def plain(g: Generator = generator, m: str = mode) -> StreamScorer:
            return StreamScorer(g, config, m)
        combos.append(("default", mode, nullcontext, plain))
        combos.append(("1 thread", mode, lambda: _threads(1), plain))
        if isinstance(generator.decoder.out[0], SeparableConv2d):
            for form in FORMS:
                combos.append((f"last layer {form}", mode, lambda f=form: _last_layer(generator, f), plain))
        combos.append(("oneDNN off", mode, lambda: torch.backends.mkldnn.flags(enabled=False), plain))
        combos.append(("torch.compile decoder", mode, nullcontext,
                       lambda m=mode: StreamScorer(compiled, config, m)))
    if onnx_paths:
        from svdgan.deploy.onnx import OnnxStreamScorer

        for kind, path in onnx_paths.items():
            combos.append((f"onnxruntime {kind}", "exact", nullcontext, lambda p=path: OnnxStreamScorer(p, config)))
    return combos


def run(n_frames: int = 30, rounds: int = 3, onnx: bool = True, channels: int = 3) -> dict[str, Any]:
    import statistics
    import warnings

    import torch._inductor.config as inductor

    config = Config()
    config.model.channels = channels
    torch.manual_seed(0)
    raw = Generator(config.model).eval()
    generator = fuse_for_inference(raw)
    frames = random_frames(n_frames + 9, config)
    print(describe(hardware()), flush=True)
    peak = conv_throughput()
    flops = {mode: stream_flops(generator, config, mode) for mode in ("exact", "fast")}

    compiled = fuse_for_inference(raw)
    inductor.freezing = True
    compiled.decoder = torch.compile(compiled.decoder)
    start = time.perf_counter()
    with torch.inference_mode():
        time_stream(StreamScorer(compiled, config, "fast"), frames[:3])
    compile_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        onnx_paths = _onnx_models(raw, config, frames, Path(tmp)) if onnx else {}
        combos = _options(generator, compiled, config, onnx_paths)
        fps: dict[tuple[str, str], list[float]] = {(o, m): [] for o, m, _, _ in combos}
        for r in range(rounds):
            for option, mode, context, scorer in combos:
                with warnings.catch_warnings(), context():
                    warnings.simplefilter("ignore")  # oneDNN's flag setter warns about Intel GPUs
                    fps[option, mode].append(_fps(scorer, frames))
            print(f"round {r + 1}/{rounds} done", flush=True)
    peak = max(peak, conv_throughput())  # the higher of before and after, as `svdgan benchmark`
    rows = [{"option": o, "mode": m, "fps": statistics.median(v), "fps_min": min(v), "fps_max": max(v)}
            for (o, m), v in fps.items()]
    base = {r["mode"]: r["fps"] for r in rows if r["option"] == "default"}
    for r in rows:
        r["over_default"] = r["fps"] / base[r["mode"]]
        r["peak_fraction"] = flops[r["mode"]] * r["fps"] / peak  # the default model's FLOPs per frame
    return {"hardware": hardware(), "conv_peak_flops": peak, "flops_per_frame": flops, "frames": n_frames,
            "rounds": rounds, "compile_seconds": compile_s, "last_layer_form": generator.decoder.out[0].form,
            "model": f"random weights (the paper's architecture), 128 px, {channels} channel(s)", "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames timed per option, mode and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime rows")
    parser.add_argument("--channels", type=int, default=3, choices=[1, 3],
                        help="3: the paper's RGB model; 1: a grayscale one, as the Ped2 recipe")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = run(args.frames, args.rounds, onnx=not args.no_onnx, channels=args.channels)
    print(f"conv peak {results['conv_peak_flops'] / 1e9:.0f} GFLOP/s")
    for r in results["rows"]:
        print(f"{r['option']:<22}{r['mode']:<6}{r['fps']:6.1f} frames/s ({r['fps_min']:.1f} to {r['fps_max']:.1f})  "
              f"{r['over_default']:.2f}x default  {r['peak_fraction']:.0%} of peak")
    if args.json:
        write_results(args.json, results)


if __name__ == "__main__":
    main()
