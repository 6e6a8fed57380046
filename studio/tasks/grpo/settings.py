"""The ``grpo`` section of the config: how replies are sampled and compared in reinforcement learning (GRPO)."""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import knob


@dataclass
class GRPOSettings:
    generations: int = knob(4, "Replies per prompt", "GRPO compares the replies to the same prompt with each other; batch size x gradient accumulation must be a multiple of it (2 or more; 4 is usual).", min=2, max=64, step=1)
    max_new_tokens: int = knob(64, "Longest reply (tokens)", "Replies are cut at this many tokens while training. Generation is most of GRPO's time: shorter is faster.", min=1, max=4096, step=1)
    temperature: float = knob(1.0, "Temperature", "How varied the sampled replies are. GRPO learns from the differences between them, so keep it near 1.", min=0.05, max=2.0, step=0.05)
    beta: float = knob(0.04, "KL weight (beta)", "How close the tuned model stays to the base model; 0 turns the KL term off.", min=0.0, max=1.0, step=0.01)
    samples: int = knob(4, "Replies shown per step", "How many sampled replies (with their rewards) each logged step keeps for the page.", min=0, max=64, step=1)
    use_vllm: bool = knob(False, "Generate with vLLM", "Generate the replies with vLLM on the training GPU (colocated), much faster than transformers' generate on GPUs. Needs a CUDA GPU and `pip install vllm`.")
