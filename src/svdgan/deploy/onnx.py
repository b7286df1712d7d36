"""ONNX export of the scoring generator, and an onnxruntime backend for `svdgan detect`.

The exported graph generates one frame from a window of T frames, with a mask that marks
which leading steps are absent (the first frames of a stream have shorter windows): masked
steps keep the ConvLSTM state at zero, which is exactly a shorter window. Inputs `frames`
(B, T, C, S, S) in [-1, 1] and `mask` (B, T); output `generated` (B, C, S, S); B is dynamic.
"""

from __future__ import annotations

import tempfile
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from svdgan.config import Config
from svdgan.errors import UserError
from svdgan.model.checkpoint import load_checkpoint, load_generator
from svdgan.model.generator import FrameFeatures, Generator
from svdgan.model.layers import SeparableConv2d, per_frame
from svdgan.scoring.detector import Detector
from svdgan.scoring.stream import BatchScores, batch_scores
from svdgan.utils.series import CausalMean


class WindowGenerator(nn.Module):
    """The generator as one function of a masked window (the graph that is exported)."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator.eval()

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        encoder = self.generator.encoder
        features = encoder.frame_features(frames.flatten(0, 1))
        x = features.skip2.unflatten(0, (b, t))  # (B, T, C2, s2, s2)
        for lstm, norm in zip(encoder.lstms, encoder.lstm_norms):
            gates = lstm.input_gates(x.flatten(0, 1)).unflatten(0, (b, t))
            hidden = gates.new_zeros(b, lstm.hidden_ch, *gates.shape[-2:])
            state = (hidden, hidden)
            outputs = []
            for step in range(t):
                keep = mask[:, step].view(b, 1, 1, 1)
                h, c = lstm.step(gates[:, step], state)
                state = (h * keep, c * keep)  # absent steps leave the state at zero
                outputs.append(state[0])
            x = per_frame(norm, torch.stack(outputs, dim=1))
        last = features.skip1.unflatten(0, (b, t))[:, -1], features.skip2.unflatten(0, (b, t))[:, -1]
        return self.generator.decode(x[:, -1], FrameFeatures(*last), frames[:, -1])


def export_onnx(checkpoint: str | Path, out: str | Path, check: bool = True) -> dict[str, float]:
    """Writes one .onnx file; with `check`, compares onnxruntime with torch on random windows."""
    try:
        import onnx  # noqa: F401 (the exporter needs it)
        import onnxscript  # noqa: F401
    except ImportError:
        raise UserError("ONNX export needs onnx and onnxscript: pip install 'svdgan[onnx]'") from None
    payload = load_checkpoint(checkpoint)
    if "generator" not in payload:
        raise UserError(f"{checkpoint} has no generator to export: it scores with its memory of normal motion alone "
                        "(OpenCV's optical flow and a k-d tree search, which run as they are); a model trained with "
                        "a generator (configs/paper.yaml, configs/svdgan_memory.yaml) has one")
    generator, config, _ = load_generator(checkpoint)
    for layer in generator.modules():  # one Conv node, not torch's CPU-tuned matmul-and-shifts form
        if isinstance(layer, SeparableConv2d) and layer.form == "taps":
            layer.form = "dense"
    model = WindowGenerator(generator.to(memory_format=torch.contiguous_format)).eval()
    cfg = config.model
    frames = torch.rand(2, cfg.clip_len, cfg.channels, cfg.size, cfg.size) * 2 - 1
    mask = torch.ones(2, cfg.clip_len)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    batch = torch.export.Dim("batch", min=1, max=1024)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation notes and axis-naming remarks
            torch.onnx.export(model, (frames, mask), str(tmp), input_names=["frames", "mask"],
                              output_names=["generated"], dynamic_shapes={"frames": {0: batch}, "mask": {0: batch}},
                              external_data=False, dynamo=True, verbose=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return parity(model, out, cfg.clip_len, cfg.channels, cfg.size) if check else {}


def parity(model: WindowGenerator, path: Path, clip_len: int, channels: int, size: int) -> dict[str, float]:
    """Largest difference between torch and onnxruntime, for full and shorter (masked) windows."""
    session = _session(path)
    torch.manual_seed(1)
    frames = torch.rand(3, clip_len, channels, size, size) * 2 - 1
    mask = torch.ones(3, clip_len)
    mask[1, :2] = 0
    mask[2, :-1] = 0
    with torch.no_grad():
        expected = model(frames, mask).numpy()
    got = session.run(None, {"frames": frames.numpy(), "mask": mask.numpy()})[0]
    return {"max_abs_diff": float(np.abs(got - expected).max())}


def _session(path: Path):  # noqa: ANN202 (onnxruntime is optional)
    try:
        import onnxruntime
    except ImportError:
        raise UserError("the onnxruntime backend needs onnxruntime: pip install 'svdgan[onnx]'") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
        raise UserError(f"cannot load ONNX model {path}: {str(exc).splitlines()[0][:200]}") from None


class OnnxStreamScorer:
    """`StreamScorer`'s exact mode on onnxruntime: each stream keeps its last T input frames."""

    def __init__(self, onnx_path: str | Path, config: Config):
        self.session = _session(Path(onnx_path))
        self.config = config
        self.streams: dict[int, dict] = {}
        self.ignore: dict[int, torch.Tensor] = {}  # stream -> (1, S, S) 1 where scored, 0 where ignored

    def reset(self, stream: int) -> None:
        self.streams.pop(stream, None)

    def set_ignore(self, stream: int, keep: torch.Tensor | None) -> None:
        """As `StreamScorer.set_ignore`: the generated frame is taken as perfect where keep is 0."""
        if keep is None:
            self.ignore.pop(stream, None)
        else:
            self.ignore[stream] = keep.float().reshape(1, *keep.shape[-2:])

    def push(self, frames: torch.Tensor, streams: list[int] | None = None) -> BatchScores:
        streams = list(range(len(frames))) if streams is None else streams
        cfg = self.config
        t_len = cfg.model.clip_len
        windows = np.zeros((len(streams), t_len, *frames.shape[1:]), np.float32)
        masks = np.zeros((len(streams), t_len), np.float32)
        states = []
        for i, s in enumerate(streams):
            st = self.streams.setdefault(s, {"frames": deque(maxlen=t_len), "recent": CausalMean(cfg.score.smooth)})
            states.append(st)
            past = list(st["frames"])
            if cfg.target_offset == 1 and past:  # predicting: the window ends at the previous frame
                window = past
            else:
                window = [*past[max(0, len(past) - (t_len - 1)):], frames[i].numpy()]
            windows[i, t_len - len(window):] = np.stack(window)
            masks[i, t_len - len(window):] = 1
            st["frames"].append(frames[i].numpy())
        generated = torch.from_numpy(self.session.run(None, {"frames": windows, "mask": masks})[0])
        if self.ignore:
            keep = torch.stack([self.ignore.get(s, torch.ones(1, 1, 1)).expand(1, *frames.shape[-2:]) for s in streams])
            generated = generated * keep + frames * (1 - keep)
        return batch_scores(generated, frames, [st["recent"] for st in states], cfg.score.patch)


def onnx_scorer(onnx_path: str | Path | None, mode: str) -> Callable[[Detector], OnnxStreamScorer]:
    """How `svdgan detect --backend onnxruntime` scores a detector's generator: with `onnx_path`
    (from `svdgan export`), or with the detector's checkpoint exported for the run."""
    if mode != "exact":
        raise UserError("the onnxruntime backend runs the exact mode only")
    if onnx_path is not None and not Path(onnx_path).is_file():
        raise UserError(f"ONNX model not found: {onnx_path}")

    def build(detector: Detector) -> OnnxStreamScorer:
        if onnx_path is not None:
            return OnnxStreamScorer(onnx_path, detector.config)
        with tempfile.TemporaryDirectory() as folder:  # the session holds the model once made
            exported = Path(folder) / "model.onnx"
            export_onnx(detector.path, exported, check=False)
            return OnnxStreamScorer(exported, detector.config)
    return build
