"""Export a trained run: the adapter, or a merged full model, with a model card and the replay recipe.

    export_run(run_dir, out_dir, merge=False, make_zip=False)

writes ``out_dir`` in Hugging Face layout:
- LoRA run, no merge: the adapter (PEFT format: ``adapter_config.json``, ``adapter_model.safetensors``)
  and the tokenizer; loads with ``peft.AutoPeftModelForCausalLM.from_pretrained(out_dir)``.
- LoRA run, ``merge=True``: the adapter merged into the base weights, saved as a full model
  (safetensors + tokenizer); loads with ``transformers.AutoModelForCausalLM.from_pretrained(out_dir)``.
- full fine-tune: the trained model, copied.
- classification runs the same way, as a sequence-classification model that
  ``pipeline("text-classification", model=out_dir)`` loads.
Every export also holds ``README.md`` (a model card: base model, data and its health checks, method,
hyperparameters, results, intended use), the run's resolved ``config.yaml`` and ``replay.sh`` with the
command that trains the same run again. ``make_zip`` also writes ``out_dir.zip``.

``push_to_hub`` uploads an export folder with a token that is passed in and never stored.
"""

from __future__ import annotations

from studio.export.card import model_card
from studio.export.facts import HUB_IDS, base_hub_id, load_snippet, model_kind, replay_command
from studio.export.folder import EXPORTABLE_STATES, REPLAY_FILE, check_exportable, export_run
from studio.export.hub import REPO_ID, push_to_hub

__all__ = ["EXPORTABLE_STATES", "HUB_IDS", "REPLAY_FILE", "REPO_ID", "base_hub_id", "check_exportable", "export_run",
           "load_snippet", "model_card", "model_kind", "push_to_hub", "replay_command"]
