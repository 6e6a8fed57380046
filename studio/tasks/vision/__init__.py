"""The vision task: fine-tune a vision-language model on conversations with images.

Data: conversations whose turns hold images (OpenAI ``image_url`` parts, ShareGPT/LLaMA-Factory ``images`` with
``<image>`` markers, Parquet image columns, or a zip of a data file and its images), read by ``intake``; images
are checked by ``health``. Model: any ``AutoModelForImageTextToText`` with its processor (``model``), full, LoRA or
QLoRA, the vision encoder frozen unless ``vision.train_encoder`` is on; only the assistant's tokens are learned
from (``encode``). Tried with an image (``chat``: ``python -m studio chat RUN --prompt ... --image FILE``);
exported as an adapter or a merged model that loads with ``AutoModelForImageTextToText`` (``export``); GGUF is
refused. ``tiny`` builds a tiny random model to try it all offline.
"""

from __future__ import annotations

from studio.data.formats import register
from studio.tasks.base import Task
from studio.tasks.chat import views
from studio.tasks.vision.format import FORMAT
from studio.tasks.vision.settings import VisionSettings

register(FORMAT)  # the format this task trains on


class VisionTask(Task):
    views = views  # held-out examples are shown as chat's are: prompt, reference, base and tuned replies
    name = "vision"
    title = "Vision (images + text)"
    help = "teach a vision-language model to answer about images (conversations with pictures)"
    data_formats = ("vision",)
    default_model = ""
    takes_images = True
    settings = VisionSettings  # vision.train_encoder
    metrics = {"eval_loss": False, "perplexity": False, "rougeL": True, "bleu": True, "exact_match": True}
    metric_labels = {"rougeL": "ROUGE-L", "bleu": "BLEU", "exact_match": "Exact match"}
    pipeline_tag = "image-text-to-text"
    purpose = "answering about images (image-text-to-text)"
    template_lengths = False
    gguf_ok = False
    check_options = (("--images", {"action": "store_true", "help": "conversations with images (the vision task; a .zip "
                      "implies it): check the images too; --model names the vision model whose processor counts image "
                      "tokens"}),)

    def load_splits(self, config):
        from studio.core.splits import load_splits
        from studio.tasks.vision.intake import load

        # a run with an owner was started on a shared studio: its images stay inside its data's folder
        return load_splits(config, read=lambda path, **_: load(path, confine=bool(config.owner)))

    def check_config(self, config, cuda):
        from studio.tasks.vision.model import check_model

        check_model(config.model.source, config.model.trust_remote_code)

    def check_file(self, args, format_report):
        """``check FILE --images`` (a .zip implies it): the image report."""
        if not (getattr(args, "images", False) or str(args.file).lower().endswith(".zip")):
            return None
        from studio.tasks.vision.health import run_check

        return run_check(args, format_report)

    def setup(self, config, hw, train_records, eval_records):
        from studio.tasks.vision.setup import setup_vision

        return setup_vision(config, hw, train_records, eval_records)

    def trained_pieces(self, tokenizer, record, max_length, train_on_prompt=False):
        from studio.tasks.vision.encode import trained_pieces

        if not hasattr(tokenizer, "image_processor"):
            return None
        return trained_pieces(tokenizer, record, max_length, train_on_prompt)

    def data_reader(self, path, fmt="auto", media=False):
        """The page reads a zip, records with images, or data named as this format with this task's intake."""
        from studio.tasks.vision.pagedata import ImageData

        if fmt in self.data_formats or (fmt == "auto" and (media or str(path).lower().endswith(".zip"))):
            return ImageData(self)
        return None

    def merged_model(self, folder, config):
        from studio.tasks.vision.export import merged_model

        return merged_model(folder, config)

    def load_snippet(self, kind, path):
        from studio.tasks.vision.export import load_snippet

        return load_snippet(kind, path)

    def chat_models(self, run_dir):
        """The run's base and tuned models, ready to answer about images (the Chat tab's)."""
        from studio.tasks.vision.chat import VisionChat

        return VisionChat.for_run(run_dir)

    def base_chat_models(self, source: str):
        """A vision base model alone, ready to answer about images (the Chat tab with no run picked)."""
        from studio.tasks.vision.chat import VisionChat

        return VisionChat(source)

    def chat(self, run_dir, prompt: str, images: list, system: str = "", tuned: bool = True, sampling=None) -> str:
        """One reply of the run's tuned (or base) model to ``prompt`` about ``images``."""
        from studio.tasks.vision.chat import VisionChat

        return VisionChat.for_run(run_dir).reply(prompt, images, system, tuned, sampling)

    def card_data_lines(self, config):
        vision = "trained" if config.vision.train_encoder else "frozen"
        return [f"- Max length: {config.data.max_length} tokens (image tokens included); learned from the answers "
                f"only; vision encoder {vision}"]

    def card_limitations(self):
        return ("Answers about images in the style and on the topics of its training data. It keeps the base model's "
                "limitations: it can misread images, state wrong facts confidently and reflect biases of its data. "
                "Not for medical, legal, safety or other high-stakes decisions without human review.")

    def suits_model(self, info):
        from studio.tasks.vision.model import is_vision_model_type

        return bool(info) and is_vision_model_type(info.get("model_type", ""))

    def model_advice(self, config, info):
        if info and not self.suits_model(info):
            return [f"{config.model.source} reads text only: the vision task needs a model that sees images"]
        return []

    def refuse_eval_format(self, fmt):
        return None if fmt == "vision" else "holds no conversations with images"

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None):
        from studio.tasks.vision.evaluate import evaluate_vision

        return evaluate_vision(folder, config, data_path, limit, max_new_tokens, report,
                               models if getattr(models, "takes_images", False) else None)


TASK = VisionTask()
