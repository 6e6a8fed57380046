"""The preference task: teach a causal language model to prefer chosen answers over rejected ones (DPO).

Data: preference pairs (a prompt as text or turns, a chosen and a rejected answer; ``studio.data`` format
"preference"). Training: TRL's ``DPOTrainer`` on the model prepared as for chat, full, LoRA or QLoRA
(``setup``); its reward margins and accuracies go to the run's events and the live chart. Evaluation: how
often the base and the tuned model prefer the chosen answer on held-out pairs, and their replies side by side
(``evaluate``). The result is a chat model: tried in the Chat tab, exported as a chat run is.
"""

from __future__ import annotations

from studio.core import models
from studio.tasks.base import ChartPanel, Task
from studio.tasks.preference import views
from studio.tasks.preference.settings import PreferenceSettings


class PreferenceTask(Task):
    views = views
    name = "preference"
    title = "Preference tuning (DPO)"
    help = "teach a chat model to prefer the chosen answers of prompt/chosen/rejected pairs (DPO)"
    data_formats = ("preference",)
    default_model = "smollm2"
    perplexity = False  # the DPO loss is not a language model's cross-entropy
    headline_metric, headline_percent = "reward_accuracy", True  # pairs whose chosen answer gained more
    chart_panels = (ChartPanel("Rewards", metrics=("reward_margin",), shares=("reward_accuracy",)),)
    settings, settings_section = PreferenceSettings, "preference"  # preference.beta
    metrics = {"preference_accuracy": True, "logp_margin": True}
    metric_labels = {"preference_accuracy": "Prefers chosen", "logp_margin": "Log-prob margin (chosen - rejected)"}
    pipeline_tag = "text-generation"
    purpose = "preference-tuned chat (DPO)"

    def setup(self, config, hw, train_records, eval_records):
        from studio.tasks.preference.setup import setup_preference

        return setup_preference(config, hw, train_records, eval_records)

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None):
        from studio.tasks.preference.evaluate import evaluate_preference

        return evaluate_preference(folder, config, data_path, limit, max_new_tokens, report, models)

    def refuse_eval_format(self, fmt):
        from studio.tasks.preference.evaluate import refuse_format

        return refuse_format(fmt)

    def trained_pieces(self, tokenizer, record, max_length, train_on_prompt=False):
        from studio.tasks.preference.evaluate import answer_ids
        from studio.tasks.preference.setup import pair_of

        pair = pair_of(record)
        if pair is None:
            return None
        pieces = []
        for label, side in (("chosen", "▲ chosen (made more likely)"), ("rejected", "▼ rejected (made less likely)")):
            ids, start = answer_ids(tokenizer, pair["prompt"], pair[label][0]["content"], max_length)
            if label == "chosen":
                pieces.append((tokenizer.decode(ids[:start], skip_special_tokens=False), False))
            pieces.append((f"[{side}] ", False))
            pieces.append((tokenizer.decode(ids[start:], skip_special_tokens=False), True))
            pieces.append(("\n", False))
        return pieces

    def merged_model(self, folder, config):
        from studio.tasks.chat.export import merged_model

        return merged_model(folder, config)

    def load_snippet(self, kind, path):
        from studio.tasks.chat.export import load_snippet

        return load_snippet(kind, path)

    def card_data_lines(self, config):
        from studio.tasks.preference.settings import loss_settings

        return [f"- Max length: {config.data.max_length} tokens; preference pairs trained with DPO "
                f"(beta {config.preference.beta}; {loss_settings(config).describe()}), the base model as the reference"]

    def card_limitations(self):
        return ("Prefers answers like the chosen ones of its training pairs, in style and content; it learned "
                "which answers to favour, not new facts. It keeps the base model's limitations: it can state "
                "wrong facts confidently and can reflect biases of its data. Check it on held-out pairs and in "
                "conversation before relying on it.")

    def suits_model(self, info):
        return False  # a chat model suits chat first; preference tuning is picked by its data

    def model_advice(self, config, info):
        if info and models.is_encoder(info):
            return [f"{config.model.source} is a text encoder: it cannot generate answers; pick a chat model"]
        return []


TASK = PreferenceTask()
