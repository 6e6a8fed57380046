"""Export a text-generation run as GGUF for llama.cpp, Ollama and LM Studio, and check it by running it.

    export_gguf(run_dir, out_dir, quant="q8_0", adapter=False, check=True)

writes ``out_dir`` with
- ``<run>-<QUANT>.gguf``: the LoRA merged into its base (or the fully tuned model), converted by llama.cpp's own
  converter (``studio.export.llamacpp``, pinned) with the chat template and special tokens; ``f16`` and ``q8_0``
  come from the converter, ``q4_k_m`` from llama.cpp's quantizer (the optional ``gguf`` extra);
- ``<run>-lora-f16.gguf`` with ``adapter=True``: the LoRA alone, for ``llama-cli --lora``;
- ``Modelfile`` for Ollama (``studio.export.modelfile``), ``README.md`` (the model card with how to run it in
  Ollama, LM Studio and llama.cpp), ``config.yaml``;
- ``gguf_check.json`` with ``check=True``: held-out prompts answered by the tuned model and by the GGUF file in
  llama.cpp and transformers, side by side (``studio.export.gguf_check``).
Everything is written to ``out_dir.partial`` and renamed when complete: a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from typing import Callable

from studio import tasks
from studio.core.errors import StudioError
from studio.export import llamacpp
from studio.export.card import model_card
from studio.export.folder import check_exportable, check_out_dir, merge_into
from studio.export.modelfile import modelfile

QUANTS = ("q8_0", "f16", "q4_k_m")
CHECK_FILE = "gguf_check.json"
CHECK_PROMPTS = 5
Progress = Callable[[float, str], None]


def check_gguf_export(run_dir, quant: str):
    """(folder, config) of a run that can be exported as GGUF with ``quant``, or a StudioError saying why not."""
    if quant not in QUANTS:
        raise StudioError(f"--quant {quant}: choose one of {', '.join(QUANTS)}")
    folder, config = check_exportable(run_dir)
    task = tasks.get(config.task)
    if not task.gguf_ok:
        raise StudioError(f"run {folder.path.name} is a {task.name} run: GGUF (llama.cpp, Ollama, LM Studio) is for "
                          "models that generate text; export it without --gguf")
    if quant in llamacpp.QUANTIZER_TYPES and not llamacpp.has_llama_cpp():
        raise StudioError(llamacpp.missing_extra(f"the {quant} quantisation") +
                          f"; {' and '.join(llamacpp.CONVERTER_TYPES)} need only the converter")
    return folder, config


def export_gguf(run_dir, out_dir, quant: str = "q8_0", adapter: bool = False, check: bool = True,
                overwrite: bool = False, progress: Progress | None = None, chat=None) -> dict:
    """Write the GGUF export folder (see the module docstring); returns what was written, sizes and the check."""
    from studio.core import models

    report = progress or (lambda fraction, message: None)
    folder, config = check_gguf_export(run_dir, quant)
    out = check_out_dir(folder, out_dir, overwrite)
    is_adapter = (folder.model_dir / "adapter_config.json").exists()
    base_dir = None
    if is_adapter and adapter:
        resolved = models.resolve(config.model.source)
        if resolved.gguf_file:
            raise StudioError(f"the LoRA alone cannot be converted: its base {config.model.source} is a GGUF file, and "
                              "llama.cpp's adapter converter needs the base in Hugging Face layout; export without --adapter")
        base_dir = resolved.path  # a folder, or a Hub id
    report(0.01, "preparing llama.cpp's converter")
    conv = llamacpp.ensure_converter(report)
    arch = _architecture(folder, config)
    supported = llamacpp.supported_architectures(conv)
    if supported and arch not in supported:
        raise StudioError(f"llama.cpp's converter ({llamacpp.VERSION}) does not support the architecture {arch} of "
                          f"{config.model.source}; GGUF export works for the architectures llama.cpp runs")
    tmp = out.with_name(out.name + ".partial")
    work = out.with_name(out.name + ".merging")
    for path in (tmp, work):
        shutil.rmtree(path, ignore_errors=True)
    tmp.mkdir(parents=True)
    name = re.sub(r"[^\w.-]+", "-", folder.path.name) or "model"
    gguf = tmp / f"{name}-{quant.upper()}.gguf"
    timings = {}
    try:
        source = folder.model_dir
        if is_adapter:
            report(0.03, "merging the LoRA adapter into its base")
            start = time.perf_counter()
            merge_into(folder, config, work)
            timings["merge_s"] = round(time.perf_counter() - start, 1)
            source = work
        start = time.perf_counter()
        step = lambda f, m: report(0.1 + 0.3 * f, m)  # noqa: E731
        if quant in llamacpp.CONVERTER_TYPES:
            llamacpp.convert(source, gguf, quant, step)
        else:
            work.mkdir(exist_ok=True)
            f16 = work / "model-f16.gguf"
            llamacpp.convert(source, f16, "f16", step)
            report(0.42, f"quantising to {quant} with llama.cpp")
            llamacpp.quantize(f16, gguf, quant)
        timings["convert_s"] = round(time.perf_counter() - start, 1)
        shutil.rmtree(work, ignore_errors=True)
        lora = None
        if base_dir is not None:
            report(0.5, "converting the LoRA adapter alone")
            lora = tmp / f"{name}-lora-f16.gguf"
            llamacpp.convert(folder.model_dir, lora, "f16", lambda f, m: report(0.5 + 0.05 * f, m), lora_base=base_dir)
        tok = models.load_tokenizer(str(folder.model_dir), config.model.trust_remote_code)
        text, pieces = modelfile(gguf.name, tok, tasks.get(config.task).system_prompt(config))
        (tmp / "Modelfile").write_text(text, encoding="utf-8")
        shutil.copy2(folder.config_file, tmp / "config.yaml")
        result_check = None
        if check:
            from studio.export.gguf_check import check_gguf

            prompts = tasks.get(config.task).check_prompts(config, CHECK_PROMPTS)
            if prompts:
                result_check = check_gguf(folder.path, gguf, prompts, chat=chat,
                                          report=lambda f, m: report(0.56 + 0.42 * f, m))
                result_check["quant"] = quant
                (tmp / CHECK_FILE).write_text(json.dumps(result_check, indent=2), encoding="utf-8")
        card = gguf_card(model_card(folder, config, "merged" if is_adapter else "full"), gguf.name,
                         lora.name if lora else None, quant, result_check)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        raise
    report(1.0, "done")
    files = sorted(out.iterdir())
    return {"run_dir": str(folder.path), "out_dir": str(out), "quant": quant, "gguf": str(out / gguf.name),
            "adapter_gguf": str(out / lora.name) if lora else None, "modelfile": text,
            "template": pieces is not None, "files": [(p.name, p.stat().st_size) for p in files if p.is_file()],
            "timings": timings, "check": result_check}


def _architecture(folder, config) -> str:
    from studio.core import models

    cfg_dir = folder.model_dir if (folder.model_dir / "config.json").exists() else None
    cfg = models.load_config(str(cfg_dir) if cfg_dir else config.model.source, config.model.trust_remote_code)
    return (getattr(cfg, "architectures", None) or [type(cfg).__name__])[0]


def gguf_card(card: str, gguf_name: str, lora_name: str | None, quant: str, check: dict | None) -> str:
    """The model card of a GGUF export: how to run it in Ollama, LM Studio and llama.cpp, and the check."""
    card = card.replace("tags:\n", "tags:\n- gguf\n", 1).replace("library_name: transformers", "library_name: gguf", 1)
    run = ["## Run it", "",
           "- **Ollama**: `ollama create my-model -f Modelfile`, then `ollama run my-model` (the Modelfile holds the "
           "chat template, stop tokens and system prompt).",
           f"- **LM Studio**: import `{gguf_name}` (`lms import {gguf_name}`, or drop it into My Models) and chat; "
           "the chat template is stored in the file.",
           f"- **llama.cpp**: `llama-cli -m {gguf_name} -cnv` (or `llama-server -m {gguf_name}`).", ""]
    if lora_name:
        run += [f"`{lora_name}` is the LoRA alone: `llama-cli -m BASE.gguf --lora {lora_name}` with the base model as GGUF.", ""]
    run += [f"The weights are `{quant}` ({'16-bit floats' if quant == 'f16' else 'quantised by llama.cpp'}).", ""]
    if check:
        run += ["Checked by running it: greedy replies to held-out prompts, compared with the tuned model in the studio "
                f"(first {check['first_tokens']} tokens the same / whole reply the same):", ""]
        for loader, s in check["summary"].items():
            run.append(f"- {loader}: {s['first_match']}/{s['prompts']} / {s['identical']}/{s['prompts']}")
        run += [f"- Note: {n}" for n in check["notes"]] + [""]
    snippet = ["## How to use from Python", "", "```python", "from transformers import AutoModelForCausalLM, AutoTokenizer",
               f"tokenizer = AutoTokenizer.from_pretrained(\"PATH_OR_REPO_ID\", gguf_file=\"{gguf_name}\")",
               f"model = AutoModelForCausalLM.from_pretrained(\"PATH_OR_REPO_ID\", gguf_file=\"{gguf_name}\")", "```", "", ""]
    return re.sub(r"## How to use\n.*?(?=## Training data)", lambda m: "\n".join(run + snippet), card, count=1, flags=re.S)
