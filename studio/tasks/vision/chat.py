"""Asking a vision run about an image: the base model and the tuned one see the same image and prompt."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.data.formats import RowError
from studio.tasks.vision.images import open_image, reference


class VisionChat:
    """The base model and (optionally) a run's tuned model with the run's processor, ready to answer."""

    def __init__(self, base_source: str, run_dir: str | Path | None = None, trust_remote_code: bool = False):
        import torch

        from studio.tasks.vision.model import load_model, load_processor

        self.lock = threading.Lock()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        tuned_dir = None
        if run_dir is not None:
            folder = RunFolder(run_dir)
            if not folder.has_model():
                raise StudioError(f"{run_dir} has no trained model yet (model/ is missing); train or resume it first")
            tuned_dir = folder.model_dir
        self.is_adapter = bool(tuned_dir and (tuned_dir / "adapter_config.json").exists())
        self.processor = load_processor(str(tuned_dir) if tuned_dir else base_source, trust_remote_code)
        self.base = load_model(base_source, trust_remote_code, dtype=dtype).to(self.device).eval()
        self.tuned = None
        if self.is_adapter:
            from peft import PeftModel

            self.base = self.tuned = PeftModel.from_pretrained(self.base, str(tuned_dir)).eval()
        elif tuned_dir is not None:
            self.tuned = load_model(str(tuned_dir), trust_remote_code, dtype=dtype).to(self.device).eval()

    @classmethod
    def for_run(cls, run_dir: str | Path) -> "VisionChat":
        from studio.core.config import StudioConfig

        folder = RunFolder(run_dir)
        if not folder.config_file.exists():
            raise StudioError(f"{run_dir} is not a run folder (no config.yaml)")
        cfg = StudioConfig.load(folder.config_file)
        return cls(cfg.model.source, run_dir, cfg.model.trust_remote_code)

    takes_images = True  # the Chat tab passes its image here

    def reply(self, prompt: str, images: list, system: str = "", tuned: bool = True, sampling=None) -> str:
        """The reply to ``prompt`` about ``images`` (paths or PIL images), greedy unless ``sampling`` says otherwise."""
        messages = [{"role": "system", "content": system}] if system else []
        return "".join(self.stream(messages + [{"role": "user", "content": prompt}], tuned, sampling, images))

    def _messages(self, messages: list[dict], count: int) -> list[dict]:
        """Plain chat messages as the processor's parts, ``count`` images leading the last user turn."""
        out = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]
                if isinstance(m["content"], str) else m["content"]} for m in messages]
        last = max((i for i, m in enumerate(out) if m["role"] == "user"), default=None)
        if count and last is None:
            raise StudioError("an image needs a question to go with it")
        if count:
            out[last] = {"role": "user", "content": [{"type": "image"} for _ in range(count)] + out[last]["content"]}
        return out

    def prompt_text(self, messages: list[dict], images: int = 0, placed: bool = False) -> str:
        """What the model reads (images as the template's image marker). ``placed``: the messages are already in
        parts with their image parts (held-out records), else ``images`` image parts lead the last user turn."""
        return self.processor.apply_chat_template(messages if placed else self._messages(messages, images),
                                                  tokenize=False, add_generation_prompt=True)

    def stream(self, messages: list[dict], tuned: bool = True, sampling=None, images: list | None = None,
               placed: bool = False):
        """The reply to chat messages (``{"role", "content": text}``), the ``images`` (paths or PIL images) shown
        with the last user turn (``placed``: messages in parts that place them already); yielded whole."""
        import torch

        from studio.core.generate import Sampling

        pictures = [im if hasattr(im, "convert") else _open(im) for im in images or []]
        text = self.prompt_text(messages, len(pictures), placed)
        inputs = self.processor(text=[text], images=pictures or None, add_special_tokens=False,
                                return_tensors="pt").to(self.device)
        if tuned and self.tuned is None:
            raise StudioError("this chat has no tuned model; pick a run that has finished or stopped")
        model = self.tuned if tuned else self.base
        ctx = self.base.disable_adapter() if self.is_adapter and not tuned else contextlib.nullcontext()
        tok = self.processor.tokenizer
        with self.lock, ctx, torch.no_grad():
            out = model.generate(**inputs, pad_token_id=tok.pad_token_id, **(sampling or Sampling()).generate_kwargs())
        yield tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def _open(path):
    p = Path(path).expanduser()
    try:
        return open_image(reference(str(p.resolve()), p.parent))
    except RowError as e:
        raise StudioError(f"image: {e}") from None
