"""The machine a benchmark ran on, recorded beside its figures."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def hardware() -> dict[str, Any]:
    import torch

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    from ..precision import native_bf16, vector_extensions

    return {"cpu": model, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "vector_extensions": vector_extensions(), "native_bf16": native_bf16()[0],
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__, "python": platform.python_version(), "gpu": None}


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
    return f"{cpu}, {hw['cores']} cores, {hw['torch_threads']} torch threads, torch {hw['torch']}"


def write_results(path: str | Path, results: dict[str, Any]) -> None:
    """A benchmark's figures as indented JSON, written atomically (the folder is made if needed)."""
    from ..checkpoint import atomic_write

    atomic_write(Path(path), lambda tmp: tmp.write_text(json.dumps(results, indent=2) + "\n"))
