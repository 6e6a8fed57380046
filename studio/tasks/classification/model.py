"""The classifier: a base model with a new classification head, prepared for training or loaded from a run.

The new head (and any other weights the checkpoint lacks) is initialised from the run's seed with a private
random generator, so the untouched base that evaluation compares against is exactly where training started,
and loading a model never reseeds the process (another run may be training next to it).
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.loading import load_for_training as _load
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.tasks.classification.labels import label_maps, read_labels


def head_modules(model) -> list[str]:
    """Names of the top-level modules outside the base network (classifier, score, pre_classifier...):
    new and task-specific, so LoRA trains them in full."""
    prefix = getattr(model, "base_model_prefix", "")
    return [name for name, mod in model.named_children()
            if name != prefix and any(True for _ in mod.parameters())]


def linear_targets(model) -> list[str]:
    """Full names of every linear layer inside the base network (what lora target 'all-linear' means here)."""
    import torch

    heads = tuple(head_modules(model))
    return [name for name, mod in model.named_modules()
            if isinstance(mod, torch.nn.Linear) and not name.split(".")[0] in heads]


def _init_new_weights(model, keys: list[str], seed: int) -> None:
    """Initialise the modules that own ``keys`` (weights the checkpoint did not have) from ``seed`` alone."""
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    std = float(getattr(model.config, "initializer_range", 0.02) or 0.02)
    owners = sorted({k.rsplit(".", 1)[0] for k in keys if "." in k})
    named = dict(model.named_modules())
    with torch.no_grad():
        for name in owners:
            mod = named.get(name)
            if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)):
                w = torch.empty(mod.weight.shape, dtype=torch.float32).normal_(0.0, std, generator=gen)
                mod.weight.copy_(w.to(mod.weight.dtype))
                if getattr(mod, "bias", None) is not None:
                    mod.bias.zero_()
            elif isinstance(mod, torch.nn.LayerNorm):
                mod.weight.fill_(1.0)
                mod.bias.zero_()


def load_classifier(source: str, labels: list[str], trust_remote_code: bool = False, dtype=None, seed: int | None = None,
                    tokenizer=None, **kwargs):
    """The base model with a fresh classification head for ``labels`` (initialised from ``seed``)."""
    from transformers import AutoModelForSequenceClassification

    r = models.resolve(source)
    id2label, label2id = label_maps(labels)
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        model, loading = AutoModelForSequenceClassification.from_pretrained(
            r.path, gguf_file=r.gguf_file, num_labels=len(labels), id2label=id2label, label2id=label2id,
            ignore_mismatched_sizes=True, trust_remote_code=trust_remote_code, output_loading_info=True, **kwargs)
    except OSError as err:
        raise models._hub_error(source, err) from err
    except ValueError as err:
        raise StudioError(f"'{source}' cannot be loaded as a text classifier: {str(err).splitlines()[0]}") from err
    if seed is not None:
        new = list(loading.get("missing_keys") or []) + [m[0] if isinstance(m, (tuple, list)) else m
                                                         for m in loading.get("mismatched_keys") or []]
        _init_new_weights(model, new, seed)
    if r.gguf_file:
        models._clear_gguf_marks(model)
    model.config.problem_type = "single_label_classification"
    if getattr(model.config, "pad_token_id", None) is None:
        # Decoder models find the last real token by the pad id; without it they refuse batches of 2+.
        if tokenizer is None:
            tokenizer = models.load_tokenizer(source, trust_remote_code)
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def load_for_training(config: StudioConfig, hw, labels: list[str], tokenizer):
    """The classifier prepared for ``config.method`` (see ``studio.core.loading``); LoRA trains the head in full."""
    src, trc, seed = config.model.source, config.model.trust_remote_code, config.train.seed
    return _load(config, hw, lambda **kw: load_classifier(src, labels, trc, seed=seed, tokenizer=tokenizer, **kw),
                 "SEQ_CLS", all_linear=linear_targets, modules_to_save=head_modules)


def effective_max_length(tokenizer, model_config, wanted: int) -> int:
    """The configured max length, capped by what the model's positions allow."""
    limits = [wanted]
    n_pos = getattr(model_config, "max_position_embeddings", None)
    if isinstance(n_pos, int) and n_pos > 0:
        limits.append(n_pos)
    tml = getattr(tokenizer, "model_max_length", None)
    if isinstance(tml, int) and 0 < tml < 1_000_000:
        limits.append(tml)
    return min(limits)


def load_tuned(run_or_model_dir: str | Path):
    """The tuned classifier as one standalone model (a LoRA adapter merged in) and its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification

    d = Path(run_or_model_dir)
    if (d / "config.yaml").exists():  # a run folder
        run_dir, model_dir = d, RunFolder(d).model_dir
    else:  # a model folder, maybe inside a run folder
        run_dir, model_dir = (d.parent if (d.parent / "config.yaml").exists() else None), d
    if not (model_dir / "adapter_config.json").exists() and not (model_dir / "config.json").exists():
        raise StudioError(f"{run_or_model_dir} has no trained model (model/ is missing); train or resume it first")
    tok = models.load_tokenizer(str(model_dir))
    if (model_dir / "adapter_config.json").exists():
        from peft import PeftModel

        cfg = StudioConfig.load(run_dir / "config.yaml") if run_dir is not None else None
        if cfg is not None:
            source, trc, seed = cfg.model.source, cfg.model.trust_remote_code, cfg.train.seed
        else:
            source = json.loads((model_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
            trc, seed = False, 0
        base = load_classifier(source, read_labels(model_dir), trc, dtype=torch.float32, seed=seed, tokenizer=tok)
        model = PeftModel.from_pretrained(base, str(model_dir)).merge_and_unload()
    else:
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), dtype=torch.float32)
    return model.eval(), tok
