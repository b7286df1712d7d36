"""Reusable blocks: (depthwise-separable) convolution and a convolutional LSTM."""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn import functional as F

FORMS = ("separate", "dense", "taps")
FASTER_BY = 1.5  # a form replaces a layer's default form only where it is this many times faster
_CHOSEN_FORMS: dict[tuple, str] = {}  # layer shape -> the form this process scores with


class SeparableConv2d(nn.Module):
    """Depthwise k x k convolution (one filter per input channel) followed by a 1x1 pointwise one.

    Three forms compute the same function (`form`):
    - "separate": the two convolutions;
    - "dense": one convolution with the composed kernel pointwise x depthwise (out, in, k, k);
    - "taps": for a few outputs at stride 1, one matrix product gives each output's k*k tap
      contributions at every pixel, and k*k shifted adds sum them. The depthwise conv over many
      channels is memory-bound; this turns it into a GEMM.
    Which is fastest depends on the CPU (docs/speed.md has the measurements), so scoring times
    them (`pick_fastest_form`); training keeps: dense for <= 4 outputs.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, bias: bool = True):
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel, stride, kernel // 2, groups=in_ch, bias=False)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=bias)
        self.form = "dense" if out_ch <= 4 else "separate"

    def composed_kernel(self) -> torch.Tensor:
        return self.pointwise.weight * self.depthwise.weight.transpose(0, 1)  # (out, in, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == "dense":
            return F.conv2d(x, self.composed_kernel(), self.pointwise.bias, self.depthwise.stride,
                            self.depthwise.padding)
        if self.form == "taps":
            return self._taps(x)
        return self.pointwise(self.depthwise(x))

    def _taps(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.composed_kernel()
        out, k, pad = kernel.shape[0], kernel.shape[-1], self.depthwise.padding[0]
        n, c, h, w = x.shape
        taps = kernel.permute(0, 2, 3, 1).reshape(out * k * k, c)  # (out*k*k, in)
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a free view when x is channels-last
        z = (taps @ pixels.transpose(1, 2)).view(n, out, k * k, h, w)  # each tap's contribution, per pixel
        y = x.new_zeros(n, out, h, w) if self.pointwise.bias is None else (
            self.pointwise.bias.view(1, -1, 1, 1).expand(n, out, h, w).clone())
        for i in range(k):  # output (a, b) takes tap (i, j) of input (a + dy, b + dx); zero outside
            dy = i - pad
            for j in range(k):
                dx = j - pad
                y[:, :, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] += \
                    z[:, :, i * k + j, max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
        return y

    @torch.inference_mode()
    def pick_fastest_form(self, example: torch.Tensor, rounds: int = 5) -> str:
        """Time each form that applies on `example` (N, C, H, W), keep the fastest; returns it.
        Rounds interleave the forms and each keeps its best time, so a moment of contention on a
        shared machine does not decide. The forms round differently, so that every model load of a
        process scores alike the choice is made once per layer shape, and a form replaces the
        default only where it is clearly faster (FASTER_BY), not by a timing's noise."""
        key = (self.depthwise.in_channels, self.pointwise.out_channels, self.depthwise.kernel_size,
               self.depthwise.stride, tuple(example.shape))
        if key in _CHOSEN_FORMS:
            self.form = _CHOSEN_FORMS[key]
            return self.form
        default = self.form
        forms = FORMS if self.depthwise.stride == (1, 1) else FORMS[:2]
        best = dict.fromkeys(forms, float("inf"))
        for form in forms:
            self.form = form
            self(example)  # warm-up: oneDNN builds its kernel on the first call
        for _ in range(rounds):
            for form in forms:
                self.form = form
                start = time.perf_counter()
                self(example)
                best[form] = min(best[form], time.perf_counter() - start)
        fastest = min(best, key=best.__getitem__)
        self.form = _CHOSEN_FORMS[key] = fastest if best[fastest] * FASTER_BY < best[default] else default
        return self.form


def conv2d(in_ch: int, out_ch: int, kernel: int, stride: int = 1, separable: bool = False,
           bias: bool = True) -> nn.Module:
    """A 'same'-padded convolution, depthwise-separable or ordinary."""
    if separable:
        return SeparableConv2d(in_ch, out_ch, kernel, stride, bias)
    return nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=bias)


def upconv2d(in_ch: int, out_ch: int, kernel: int) -> nn.ConvTranspose2d:
    """Transposed convolution, stride 2, that exactly doubles height and width (Keras 'same')."""
    return nn.ConvTranspose2d(in_ch, out_ch, kernel, stride=2, padding=kernel // 2, output_padding=1)


LSTMState = tuple[torch.Tensor, torch.Tensor]  # (hidden, cell), each (B, C, h, w)


class ConvLSTM(nn.Module):
    """One convolutional LSTM layer over a sequence (Shi et al. 2015), returning every step.

    The input-to-gate convolution does not depend on the state, so it runs once over all
    frames of the sequence as one batch; only the hidden-to-gate convolution is sequential.
    `stride` applies to the input convolution (the hidden state lives at the output size).
    """

    def __init__(self, in_ch: int, hidden_ch: int, kernel: int = 3, stride: int = 1,
                 separable: bool = False):
        super().__init__()
        self.hidden_ch = hidden_ch
        self.stride = stride
        self.input_conv = conv2d(in_ch, 4 * hidden_ch, kernel, stride, separable)
        self.hidden_conv = conv2d(hidden_ch, 4 * hidden_ch, kernel, 1, separable, bias=False)

    def input_gates(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) frames -> (N, 4*hidden, H/stride, W/stride) input contributions."""
        return self.input_conv(x)

    def step(self, gates_x: torch.Tensor, state: LSTMState | None) -> LSTMState:
        """One time step from precomputed input gates; returns the new (hidden, cell)."""
        if state is None:
            b, _, h, w = gates_x.shape
            zeros = gates_x.new_zeros(b, self.hidden_ch, h, w)
            return self._update(gates_x, zeros)  # the hidden contribution of a zero state is zero (no bias)
        return self._update(gates_x + self.hidden_conv(state[0]), state[1])

    def step_and_start(self, gates_x: torch.Tensor, state: LSTMState | None) -> LSTMState:
        """`step` where `state` covers only the first n rows of gates_x (N, ...): the other N - n rows
        start new sequences from the zero state. Streaming uses it to advance open windows and open new ones."""
        if state is None:
            return self.step(gates_x, None)
        n, (hidden, cell) = len(state[0]), state
        gates = torch.cat([gates_x[:n] + self.hidden_conv(hidden), gates_x[n:]])
        return self._update(gates, torch.cat([cell, cell.new_zeros(len(gates_x) - n, *cell.shape[1:])]))

    @staticmethod
    def _update(gates: torch.Tensor, cell: torch.Tensor) -> LSTMState:
        i, f, g, o = gates.chunk(4, dim=1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(cell), cell

    def forward(self, x: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        """(B, T, C, H, W) -> (B, T, hidden, H', W') and the final state."""
        b, t = x.shape[:2]
        gates = self.input_gates(x.flatten(0, 1)).unflatten(0, (b, t))
        outputs = []
        # unbind, not gates[:, step]: the backward of T selects would zero-fill T full-size tensors
        for gates_t in gates.unbind(1):
            state = self.step(gates_t, state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state


def per_frame(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a frame-wise module to (B, T, C, H, W) by folding time into the batch."""
    b, t = x.shape[:2]
    return module(x.flatten(0, 1)).unflatten(0, (b, t))


@torch.no_grad()
def fold_batch_norm(conv: nn.Module, bn: nn.BatchNorm2d) -> None:
    """Fold an inference-mode batch norm into the convolution before it, in place: one pass over
    the activation fewer (the batch norms after the big transposed convolutions cost as much as
    a fifth of scoring time)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    if isinstance(conv, SeparableConv2d):
        conv = conv.pointwise
    if isinstance(conv, nn.ConvTranspose2d):  # weight (in, out, k, k)
        conv.weight.mul_(scale.view(1, -1, 1, 1))
    elif isinstance(conv, nn.Conv2d):  # weight (out, in, k, k)
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
    else:
        raise TypeError(f"cannot fold batch norm into {type(conv).__name__}")
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    conv.bias = nn.Parameter(bias * scale + shift)
