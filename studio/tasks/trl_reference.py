"""What the TRL tasks that tune against a frozen reference share (DPO in ``preference``, KTO in ``feedback``).

- ``load_tokenizer(config)``: the model's tokenizer with a chat template (the model's own or the fallback) and a pad
  token, and whether the template is the model's own.
- ``load_policy(config, hw)``: the model to train (full, LoRA or QLoRA, as for chat) and the facts every such run
  reports (parameters, trainable parameters, which chat template, beta).
- ``build_trainer(trainer_cls, config_cls, args, model, **kw)``: the TRL trainer with its reference. With LoRA the
  reference is the base with the adapter switched off (a fresh adapter is zero), so TRL's extra "ref" adapter is
  dropped: nothing second to compute, save or export. With full fine-tuning it is a frozen copy of the starting
  weights.
"""

from __future__ import annotations

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.chat_template import ensure_chat_template
from studio.core.params import count_parameters
from studio.tasks.chat.model import load_for_training


def load_tokenizer(config: StudioConfig):
    tokenizer = models.load_tokenizer(config.model.source, config.model.trust_remote_code)
    own_template = ensure_chat_template(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, own_template


def load_policy(config: StudioConfig, hw, own_template: bool) -> tuple[object, dict]:
    model = load_for_training(config, hw)
    total, trainable = count_parameters(model)
    return model, {"parameters": total, "trainable_parameters": trainable,
                   "chat_template": "model" if own_template else "fallback", "beta": config.preference.beta}


def build_trainer(trainer_cls, config_cls, args: dict, model, **kw):
    import copy

    from peft import PeftModel

    is_peft = isinstance(model, PeftModel)
    ref = None
    if not is_peft:  # full fine-tuning: the reference is a frozen copy of the starting weights
        ref = copy.deepcopy(model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
    trainer = trainer_cls(model=model, ref_model=ref, args=config_cls(**args), **kw)
    if is_peft and "ref" in trainer.model.peft_config:
        trainer.model.delete_adapter("ref")
    return trainer
