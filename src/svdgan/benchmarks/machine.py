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


def describe(hw: dict[str, Any]) -> str:
    """One line for a benchmark's header: which kind of processor its figures come from (older
    records without the vector extensions say so rather than guess)."""
    if "vector_extensions" in hw:
        kind = "AVX-512" if any(f.startswith("avx512") for f in hw["vector_extensions"]) else "no AVX-512"
        cpu = (f"{hw['cpu']} ({kind}; {hw.get('torch_cpu_capability', '?')} kernels; native bf16: "
               f"{'yes' if hw.get('native_bf16') else 'no'})")
    else:
        cpu = f"{hw['cpu']} (vector extensions not recorded)"
    return f"{cpu}, {hw['cores']} cores, {hw['torch_threads']} torch threads, torch {hw['torch']}"


def write_results(path: str | Path, results: dict[str, Any]) -> None:
    """A benchmark's figures as indented JSON, written atomically (the folder is made if needed)."""
    from ..checkpoint import atomic_write

    atomic_write(Path(path), lambda tmp: tmp.write_text(json.dumps(results, indent=2) + "\n"))
