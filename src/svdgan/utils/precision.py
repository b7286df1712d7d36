"""Numeric precision: bfloat16 only where the hardware runs it natively.

Without native support (x86 CPUs lacking AVX512_BF16 and AMX, e.g. every AVX2-only processor)
oneDNN emulates bfloat16 and runs about 30 times slower than fp32, so `auto` picks fp32 there.
"""

from __future__ import annotations

import sys

import torch

from svdgan.errors import UserError
from svdgan.utils.hardware import cpu_bf16, cpu_flags

PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: str | torch.device = "cpu") -> tuple[bool, str]:
    """Whether `device` computes bfloat16 natively, and why we think so."""
    device = torch.device(device)
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, f"GPU {torch.cuda.get_device_name(device)} {'supports' if ok else 'lacks'} bfloat16"
    return cpu_bf16(cpu_flags())


def choose_precision(requested: str, device: str | torch.device = "cpu") -> tuple[str, str | None]:
    """'auto', 'fp32' or 'bf16' -> ('fp32' or 'bf16', the line that says why, or None).
    auto: bf16 only where native; an explicit bf16 without native support runs, with a warning."""
    if requested not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested == "fp32":
        return "fp32", None
    native, why = native_bf16(device)
    if requested == "auto":
        chosen = "bf16" if native else "fp32"
        return chosen, f"svdgan: precision auto -> {chosen} ({why})"
    if native:
        return "bf16", None
    return "bf16", f"svdgan: warning: bf16 requested but {why}: expect it to run many times slower than fp32"


def resolve_precision(requested: str, device: str | torch.device = "cpu", announce: bool = True) -> str:
    """choose_precision, saying on stderr which was chosen and why (when `announce`)."""
    chosen, line = choose_precision(requested, device)
    if line and announce:
        print(line, file=sys.stderr)
    return chosen
