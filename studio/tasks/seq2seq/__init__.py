"""The seq2seq task: teach an encoder-decoder model (T5, Flan-T5, BART, ...) to answer.

Data: the chat task's formats that hold answers (chat messages, ShareGPT, Alpaca, prompt/completion), read the same
way; each answered turn becomes a source text and a target text (``encode``, ``studio.core.source_text``).
Model: ``AutoModelForSeq2SeqLM``, full, LoRA or QLoRA (``setup``, on ``studio.core.loading``). Evaluation:
teacher-forced loss and greedy replies against references, as for chat (``evaluate``). Tried in the Chat tab.
"""

from __future__ import annotations

from studio.core import models
from studio.core.errors import StudioError
from studio.tasks.base import Task
from studio.tasks.chat import views


class Seq2SeqTask(Task):
    views = views
    name = "seq2seq"
    title = "Sequence to sequence (T5, Flan-T5)"
    help = "teach an encoder-decoder model such as T5 or Flan-T5 to answer (instructions, prompt/completion, chat)"
    data_formats = ("chat", "sharegpt", "alpaca", "prompt_completion")
    default_model = ""  # no encoder-decoder model is embedded: the person names a T5 folder or hub id
    metrics = {"eval_loss": False, "perplexity": False, "rougeL": True, "bleu": True, "exact_match": True}
    metric_labels = {"rougeL": "ROUGE-L", "bleu": "BLEU", "exact_match": "Exact match"}
    pipeline_tag = "text2text-generation"
    purpose = "sequence-to-sequence generation (instructions to answers)"
    template_lengths = False  # the source is plain text, not a chat template

    def check_config(self, config, cuda):
        if config.data.format == "text":
            raise StudioError("data.format: text has no answers; the seq2seq task learns from instruction, chat or "
                              "prompt/completion data")

    def setup(self, config, hw, train_records, eval_records):
        from studio.tasks.seq2seq.setup import setup_seq2seq

        return setup_seq2seq(config, hw, train_records, eval_records)

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None):
        from studio.tasks.seq2seq.evaluate import evaluate_seq2seq

        return evaluate_seq2seq(folder, config, data_path, limit, max_new_tokens, report, models)

    def refuse_eval_format(self, fmt):
        from studio.tasks.chat.evaluate import refuse_format

        return refuse_format(fmt)

    def trained_pieces(self, tokenizer, record, max_length, train_on_prompt=False):
        from studio.tasks.seq2seq.encode import trained_pieces

        return trained_pieces(tokenizer, record, max_length)

    def merged_model(self, folder, config):
        from studio.tasks.seq2seq.export import merged_model

        return merged_model(folder, config)

    def load_snippet(self, kind, path):
        from studio.tasks.seq2seq.export import load_snippet

        return load_snippet(kind, path)

    def card_data_lines(self, config):
        return [f"- Max length: {config.data.max_length} tokens for the source and for the target; "
                "learned from the answers given the prompts"]

    def card_limitations(self):
        return ("Writes answers in the style and on the topics of its training data. It keeps the base model's "
                "limitations: it can state wrong facts confidently and can reflect biases of its data. "
                "Not for medical, legal, financial or other high-stakes advice without human review.")

    def suits_model(self, info):
        return models.is_seq2seq(info)

    def model_advice(self, config, info):
        out = []
        if info and not models.is_seq2seq(info):
            out.append(f"{config.model.source} is not an encoder-decoder model: the seq2seq task needs one such as "
                       "T5 or Flan-T5; use the chat task for this model")
        targets = [t for t in config.lora.target_modules or [] if t != "all-linear"]
        if info and models.is_seq2seq(info) and config.method != "full" and targets:
            from studio.tasks.seq2seq.setup import linear_names

            names = linear_names(config.model.source, config.model.trust_remote_code)
            if not set(targets) & set(names):
                out.append(f"LoRA target modules {', '.join(targets)} are not layers of {config.model.source}; its "
                           f"linear layers are {', '.join(names)}: use some of those or all-linear")
        if config.data.train_on_prompt:
            out.append("train on prompt has no effect with seq2seq: the encoder reads the prompt, only answers are written")
        return out


TASK = Seq2SeqTask()
