"""Training presets: named sets of knob values, each saying what it trades."""

from __future__ import annotations

from types import MappingProxyType

QUICK = "Quick demo"
BALANCED = "Balanced"
THOROUGH = "Thorough"

PRESETS = MappingProxyType({
    QUICK: MappingProxyType({
        "about": "The embedded SmolLM2-135M, LoRA rank 16 on the attention layers, 30 steps of 4 examples at a "
                 "high learning rate (2e-3). A few minutes on a laptop CPU. Learns a style or a fixed habit from a small "
                 "sample; not enough for real knowledge, and it overfits larger data.",
        "model": "smollm2",
        "values": MappingProxyType({
            "method": "lora", "train.max_steps": 30, "train.epochs": 3.0, "train.learning_rate": 2e-3,
            "train.batch_size": 4, "train.grad_accum": 1, "train.warmup_ratio": 0.0, "train.scheduler": "linear",
            "train.logging_steps": 1, "train.eval_steps": 0, "train.save_steps": 0, "train.gradient_checkpointing": "auto",
            "lora.r": 16, "lora.alpha": 32, "lora.dropout": 0.0,
            "lora.target_modules": ("q_proj", "k_proj", "v_proj", "o_proj"),
            "data.max_length": 256, "data.eval_fraction": 0.1,
        }),
    }),
    BALANCED: MappingProxyType({
        "about": "Three passes over your data at a moderate learning rate (2e-4), LoRA rank 16 on every linear "
                 "layer, cosine schedule. A sound default for a real dataset of hundreds to thousands of "
                 "examples: minutes on a GPU, an hour or more on a CPU.",
        "model": None,
        "values": MappingProxyType({
            "method": "lora", "train.max_steps": -1, "train.epochs": 3.0, "train.learning_rate": 2e-4,
            "train.batch_size": 8, "train.grad_accum": 2, "train.warmup_ratio": 0.05, "train.scheduler": "cosine",
            "train.logging_steps": 5, "train.eval_steps": 0, "train.save_steps": 0, "train.gradient_checkpointing": "auto",
            "lora.r": 16, "lora.alpha": 32, "lora.dropout": 0.05, "lora.target_modules": ("all-linear",),
            "data.max_length": 512, "data.eval_fraction": 0.1,
        }),
    }),
    THOROUGH: MappingProxyType({
        "about": "Five passes, a gentle learning rate (1e-4), a larger adapter (rank 64 on every linear layer), "
                 "longer examples (1024 tokens), with gradient checkpointing where the memory estimate says they need it. The best quality on "
                 "larger data, at several times the time and memory of Balanced: meant for a GPU.",
        "model": None,
        "values": MappingProxyType({
            "method": "lora", "train.max_steps": -1, "train.epochs": 5.0, "train.learning_rate": 1e-4,
            "train.batch_size": 8, "train.grad_accum": 4, "train.warmup_ratio": 0.1, "train.scheduler": "cosine",
            "train.logging_steps": 10, "train.eval_steps": 0, "train.save_steps": 0,
            "train.gradient_checkpointing": "auto",
            "lora.r": 64, "lora.alpha": 128, "lora.dropout": 0.05, "lora.target_modules": ("all-linear",),
            "data.max_length": 1024, "data.eval_fraction": 0.1,
        }),
    }),
})
DEFAULT_PRESET = QUICK


def preset_values(name: str) -> dict:
    """The preset's knob values as plain, fresh objects (lists, not tuples)."""
    values = PRESETS[name]["values"]
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
