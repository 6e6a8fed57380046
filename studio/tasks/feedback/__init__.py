"""The feedback task: teach a causal language model from single answers marked thumbs-up or thumbs-down (KTO).

Data: ``studio.data`` format "feedback" (a prompt or conversation, one answer, a true/false or thumbs up/down label).
Training: TRL's ``KTOTrainer`` on the model prepared as for chat (``setup``). Evaluation: the mean log-probability
of thumbs-up and thumbs-down answers under the base and the tuned model, and replies (``evaluate``). The result is
a chat model: tried in the Chat tab, exported as a chat run is.
"""

from __future__ import annotations

from studio.core import models
from studio.core.errors import StudioError
from studio.tasks.base import ChartPanel, Task
from studio.tasks.feedback import views
from studio.tasks.preference.settings import PreferenceSettings


class FeedbackTask(Task):
    views = views
    name = "feedback"
    title = "Feedback tuning (KTO)"
    help = "teach a chat model from single answers marked thumbs-up or thumbs-down (KTO)"
    data_formats = ("feedback",)
    perplexity = False  # the KTO loss is not a language model's cross-entropy
    chart_panels = (ChartPanel("Rewards", metrics=("reward_margin", "kl")),)
    settings, settings_section = PreferenceSettings, "preference"  # preference.beta, shared with DPO
    metrics = {"feedback_gap": True, "desirable_logp": True, "undesirable_logp": False}
    metric_labels = {"feedback_gap": "Gap (thumbs-up - thumbs-down log-prob)", "desirable_logp": "Thumbs-up answers' log-prob",
                     "undesirable_logp": "Thumbs-down answers' log-prob"}
    purpose = "feedback-tuned chat (KTO)"

    def check_config(self, config, cuda):
        if config.train.batch_size < 2:
            raise StudioError("train.batch_size: KTO needs at least 2 examples per batch (it estimates its KL term "
                              "from the other examples of the batch); use 2 or more")

    def setup(self, config, hw, train_records, eval_records):
        from studio.tasks.feedback.setup import setup_feedback

        return setup_feedback(config, hw, train_records, eval_records)

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None):
        from studio.tasks.feedback.evaluate import evaluate_feedback

        return evaluate_feedback(folder, config, data_path, limit, max_new_tokens, report, models)

    def refuse_eval_format(self, fmt):
        from studio.tasks.feedback.evaluate import refuse_format

        return refuse_format(fmt)

    def trained_pieces(self, tokenizer, record, max_length, train_on_prompt=False):
        from studio.tasks.chat.encode import trained_pieces

        mark = "✓ made more likely" if record.get("verdict") else "✗ made less likely"
        whole = {"messages": list(record.get("messages") or []) + [{"role": "assistant", "content": record.get("completion", "")}]}
        return trained_pieces(tokenizer, whole, max_length) + [(f"\n[{mark}]", False)]

    def merged_model(self, folder, config):
        from studio.tasks.chat.export import merged_model

        return merged_model(folder, config)

    def load_snippet(self, kind, path):
        from studio.tasks.chat.export import load_snippet

        return load_snippet(kind, path)

    def card_data_lines(self, config):
        return [f"- Max length: {config.data.max_length} tokens; thumbs-up/down answers trained with KTO "
                f"(beta {config.preference.beta}), the base model as the reference"]

    def suits_model(self, info):
        return False  # picked by its data, not by the model

    def model_advice(self, config, info):
        if info and models.is_encoder(info):
            return [f"{config.model.source} is a text encoder: it cannot generate answers; pick a chat model"]
        return []


TASK = FeedbackTask()
