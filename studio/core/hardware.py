"""The device and precision a run trains on, and its peak memory.

Precision ``auto``: bf16 on GPUs that support it (fp16 on older ones); on a CPU, bf16 where the CPU has bf16
units (AMX or AVX512-BF16, read from the CPU's flags at run time) and fp32 elsewhere. On a CPU, bf16 means the
frozen base weights of a LoRA run are bf16 (its matmuls run on those units) while the trained adapter weights
and the optimizer state stay fp32; a full fine-tune trains fp32 weights (``frozen_dtype``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

GB = 1024**3


CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_bf16_units() -> list[str]:
    """The CPU's bf16 instruction sets (e.g. ["amx_bf16", "avx512_bf16"]); empty where it has none or is not x86 Linux."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in CPU_BF16_FLAGS if f in flags]
    except OSError:
        pass
    return []


@dataclass
class Hardware:
    device: str  # cuda | mps | cpu
    precision: str  # bf16 | fp16 | fp32
    name: str = ""
    reason: str = ""  # why this precision, in words (shown in the start event and the estimate)

    @property
    def torch_dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]


def detect_hardware(requested: str = "auto") -> Hardware:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        if requested != "auto":
            return Hardware("cuda", requested, name, f"{requested}, as the config asks")
        if torch.cuda.is_bf16_supported():
            return Hardware("cuda", "bf16", name, "bf16: the GPU supports it (mixed precision, fp32 master weights)")
        return Hardware("cuda", "fp16", name, "fp16: this GPU has no bf16 (mixed precision, fp32 master weights)")
    name = f"CPU ({cpu_cores()} cores)"
    units = cpu_bf16_units()
    if requested in ("fp32", "bf16"):
        return Hardware("cpu", requested, name, f"{requested}, as the config asks")
    if units:
        return Hardware("cpu", "bf16", name, f"bf16: this CPU has bf16 units ({', '.join(units)}); frozen weights in "
                                             "bf16, trained weights and optimizer state in fp32")
    return Hardware("cpu", "fp32", name, "fp32: this CPU has no bf16 units (AMX or AVX512-BF16)")


def frozen_dtype(hw: Hardware, method: str, task_type: str = "CAUSAL_LM"):
    """The dtype of the weights that do not train: half precision for LoRA on a GPU and, with bf16 units, on a
    CPU (causal and encoder-decoder LMs; a classifier's new head would meet bf16 inputs there); fp32 otherwise."""
    import torch

    if method != "lora":
        return torch.float32
    if hw.device == "cuda":
        return hw.torch_dtype
    if hw.precision == "bf16" and task_type in ("CAUSAL_LM", "SEQ_2_SEQ_LM"):
        return torch.bfloat16
    return torch.float32


def peak_memory_mb(hw: Hardware) -> float:
    import resource

    import torch

    if hw.device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ---- the device and its free memory now (estimates, the Model tab, the Space's notice) ----------------------
@dataclass
class Device:
    kind: str  # cpu | cuda
    name: str
    cores: int
    total_bytes: int
    available_bytes: int
    bf16_units: tuple = ()  # a CPU's bf16 instruction sets (amx_bf16, avx512_bf16)

    def to_dict(self) -> dict:
        return asdict(self)


def _meminfo() -> tuple[int, int]:
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.total), int(vm.available)
    except ImportError:
        pass
    values = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, rest = line.split(":", 1)
            values[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError):
        return 8 * GB, 4 * GB
    return values.get("MemTotal", 8 * GB), values.get("MemAvailable", values.get("MemFree", 4 * GB))


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def detect_device() -> Device:
    """The device training will use and its free memory now. Imports torch only where a GPU driver is."""
    if Path("/proc/driver/nvidia/version").exists() or os.environ.get("CUDA_VISIBLE_DEVICES", "").strip():
        try:
            import torch

            if torch.cuda.is_available():
                free, total = torch.cuda.mem_get_info(0)
                return Device("cuda", torch.cuda.get_device_name(0), cpu_cores(), int(total), int(free))
        except Exception:  # noqa: BLE001 - no usable GPU: the CPU is the device
            pass
    total, available = _meminfo()
    return Device("cpu", f"CPU ({cpu_cores()} cores)", cpu_cores(), total, available, tuple(cpu_bf16_units()))
