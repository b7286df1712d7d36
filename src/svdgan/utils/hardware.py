"""The machine: its processor's name and flags (/proc/cpuinfo, read once), and the record of it
kept beside every benchmark figure and in every checkpoint."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    fields: dict[str, str] = {}
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if not line.strip():
                break  # the end of the first processor's block
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags (x86 'flags', aarch64 'Features'); empty where unknown."""
    info = _cpuinfo()
    return frozenset((info.get("flags") or info.get("Features") or "").split())


_X86_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of native bfloat16 arithmetic


def cpu_bf16(flags: frozenset[str]) -> tuple[bool, str]:
    """Whether a CPU with these flags computes bfloat16 natively, and why we think so."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "bf16" in flags, "this ARM CPU " + ("has" if "bf16" in flags else "has no") + " BF16 instructions"
    native = sorted(flags & set(_X86_BF16_FLAGS))
    if native:
        return True, f"this CPU has {' and '.join(native)}"
    return False, "this CPU has no avx512_bf16 or amx_bf16, so bfloat16 would be emulated"


def vector_extensions() -> list[str]:
    """The SIMD and matrix extensions a speed figure depends on, e.g. ['avx2', 'fma']."""
    wanted = ("avx2", "fma", "avx512", "amx", "asimd", "sve", "bf16")
    return sorted(f for f in cpu_flags() if f.startswith(wanted))


# Settings that hold the libraries to older kernels than the processor has (e.g. AVX2 on an AVX-512
# machine, to time what an AVX2-only one runs): kept beside a figure, as they change it.
ISA_LIMITS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "OPENCV_CPU_DISABLE", "NPY_DISABLE_CPU_FEATURES")


def isa_limits() -> dict[str, str]:
    return {k: os.environ[k] for k in ISA_LIMITS if os.environ.get(k)}


def hardware() -> dict[str, Any]:
    import torch

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "vector_extensions": vector_extensions(), "native_bf16": cpu_bf16(cpu_flags())[0],
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__, "python": platform.python_version(), "gpu": None,
            **({"isa_limits": isa_limits()} if isa_limits() else {})}


def training_machine(device: Any, processes: int) -> dict[str, Any]:
    """What a training session ran on, kept in its checkpoint."""
    import torch

    hw = hardware()
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    return {"cpu": hw["cpu"], "avx512": _has_avx512(hw), "native_bf16": hw["native_bf16"],
            "torch_threads": hw["torch_threads"], "processes": processes,
            "gpu": torch.cuda.get_device_name(device) if on_gpu else None}


def describe_training(sessions: list[dict[str, Any]] | None) -> str:
    """A run's training machines in a few words, e.g. 'fp32, no AVX-512' or 'GPU: NVIDIA H200'."""
    if not sessions:
        return "machine not recorded"
    kinds: dict[str, int] = {}
    for s in sessions:
        m = s.get("machine")
        kind = ("machine not recorded" if m is None else f"{s['precision']}, GPU: {m['gpu']}" if m.get("gpu")
                else f"{s['precision']}, {'AVX-512' if m['avx512'] else 'no AVX-512'}, "
                     f"{m['torch_threads'] * m['processes']} threads")
        kinds[kind] = kinds.get(kind, 0) + s["steps"][1] - s["steps"][0]
    if len(kinds) == 1:
        return next(iter(kinds))
    return "; ".join(f"{kind} for {steps} steps" for kind, steps in kinds.items())


def _has_avx512(hw: dict[str, Any]) -> bool:
    return any(f.startswith("avx512") for f in hw["vector_extensions"])


def describe(hw: dict[str, Any]) -> str:
    """One line for a benchmark's header: which kind of processor its figures come from (older
    records without the vector extensions say so rather than guess)."""
    if "vector_extensions" in hw:
        kind = "AVX-512" if _has_avx512(hw) else "no AVX-512"
        cpu = (f"{hw['cpu']} ({kind}; {hw.get('torch_cpu_capability', '?')} kernels; native bf16: "
               f"{'yes' if hw.get('native_bf16') else 'no'})")
    else:
        cpu = f"{hw['cpu']} (vector extensions not recorded)"
    limits = "".join(f"; {k}={v}" for k, v in hw.get("isa_limits", {}).items())
    return f"{cpu}, {hw['cores']} cores, {hw['torch_threads']} torch threads, torch {hw['torch']}{limits}"
