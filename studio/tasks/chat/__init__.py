"""The chat task: teach a causal language model to answer (chat, instructions, completions, plain text).

Data: chat messages, ShareGPT, Alpaca, prompt/completion or plain text, rendered with the model's chat template;
only the answers are learned from unless ``data.train_on_prompt`` is set (``encode``). Model: a causal LM,
full, LoRA or QLoRA (``model``, on ``studio.core.loading``). Evaluation: teacher-forced loss and greedy
replies against references (``evaluate``). Tried in the Chat tab.
"""

from __future__ import annotations

from studio.core import models
from studio.tasks.base import Task
from studio.tasks.chat import views


class ChatTask(Task):
    views = views
    name = "chat"
    title = "Chat / instructions"
    help = "teach a model to answer (chat, instructions, completions, plain text)"
    data_formats = ("chat", "sharegpt", "alpaca", "prompt_completion", "text")
    default_model = "smollm2"
    metrics = {"eval_loss": False, "perplexity": False, "rougeL": True, "bleu": True, "exact_match": True}
    metric_labels = {"rougeL": "ROUGE-L", "bleu": "BLEU", "exact_match": "Exact match"}
    pipeline_tag = "text-generation"
    purpose = "chat / instruction following"
    gguf_ok = True

    def setup(self, config, hw, train_records, eval_records):
        from studio.tasks.chat.setup import setup_chat

        return setup_chat(config, hw, train_records, eval_records)

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None):
        from studio.tasks.chat.evaluate import evaluate_chat

        return evaluate_chat(folder, config, data_path, limit, max_new_tokens, report, models)

    def refuse_eval_format(self, fmt):
        from studio.tasks.chat.evaluate import refuse_format

        return refuse_format(fmt)

    def trained_pieces(self, tokenizer, record, max_length, train_on_prompt=False):
        from studio.tasks.chat.encode import trained_pieces

        return trained_pieces(tokenizer, record, max_length, train_on_prompt)

    def merged_model(self, folder, config):
        from studio.tasks.chat.export import merged_model

        return merged_model(folder, config)

    def load_snippet(self, kind, path):
        from studio.tasks.chat.export import load_snippet

        return load_snippet(kind, path)

    def check_prompts(self, config, limit):
        from studio.tasks.chat.export import check_prompts

        return check_prompts(config, limit)

    def system_prompt(self, config):
        from studio.tasks.chat.export import system_prompt

        return system_prompt(config)

    def card_data_lines(self, config):
        learned = "learned from prompts and answers" if config.data.train_on_prompt else "learned from the answers only"
        return [f"- Max length: {config.data.max_length} tokens; {learned}"]

    def card_limitations(self):
        return ("Answers in the style and on the topics of its training data. It keeps the base model's "
                "limitations: it can state wrong facts confidently and can reflect biases of its data. "
                "Not for medical, legal, financial or other high-stakes advice without human review.")

    def suits_model(self, info):
        return not models.is_encoder(info) and not models.is_seq2seq(info) and not _sees_images(info)

    def model_advice(self, config, info):
        if info and models.is_encoder(info):
            return [f"{config.model.source} is a text encoder: it cannot learn to chat; pick a chat model or classification data"]
        if info and models.is_seq2seq(info):
            return [f"{config.model.source} is an encoder-decoder model: train it with the seq2seq task"]
        return []


TASK = ChatTask()


def _sees_images(info) -> bool:
    """An image-text-to-text model (LLaVA, SmolVLM, ...): the vision task trains it, not chat."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return bool(info) and info.get("model_type", "") in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
