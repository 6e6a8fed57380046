"""The device and precision a run trains on, and its peak memory."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Hardware:
    device: str  # cuda | mps | cpu
    precision: str  # bf16 | fp16 | fp32
    name: str = ""

    @property
    def torch_dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]


def detect_hardware(requested: str = "auto") -> Hardware:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        if requested != "auto":
            return Hardware("cuda", requested, name)
        return Hardware("cuda", "bf16" if torch.cuda.is_bf16_supported() else "fp16", name)
    return Hardware("cpu", "fp32", f"CPU ({os.cpu_count()} cores)")


def peak_memory_mb(hw: Hardware) -> float:
    import resource

    import torch

    if hw.device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
