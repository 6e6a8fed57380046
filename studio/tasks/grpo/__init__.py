"""The grpo task: reinforcement learning of a chat model from rewards built without code (TRL's ``GRPOTrainer``).

Data: prompts (a prompt or question column, conversations, ...; any chat-like format), with optional columns the
rewards compare against (a reference ``answer``). Rewards: the config's ``rewards:`` list (``rewards.py``: format,
exact/numeric/math match, contains/avoids, length, JSON, a reward model, a Python function). Settings: ``grpo:``
(generations per prompt, reply length, temperature, KL weight beta). Before training, ``preview.py`` shows what the
base model earns; while training, the run's events carry each reward's mean, the reply length, the KL and sampled
replies; ``python -m studio eval RUN`` scores base and tuned on held-out prompts. The result is a chat model.

    python -m studio.tasks.grpo preview CONFIG.yaml     the reward preview in the terminal
"""

from __future__ import annotations

from studio.core import models
from studio.tasks.base import Task
from studio.tasks.grpo import views
from studio.tasks.grpo.settings import GRPOSettings


class GrpoTask(Task):
    views = views
    name = "grpo"
    title = "Reinforcement learning from rewards (GRPO)"
    help = "teach a chat model to earn rewards you describe (format, right answer, length, ...) on prompts alone (GRPO)"
    data_formats = ("prompt_completion", "chat", "sharegpt", "alpaca")
    default_model = "smollm2"
    settings = GRPOSettings  # grpo.generations, grpo.max_new_tokens, ...
    metrics = {"reward": True}
    metric_labels = {"reward": "Reward (weighted total per reply)"}
    purpose = "reinforcement learning from rewards (GRPO)"
    train_panel = "studio.tasks.grpo.panel"  # the Train tab's rewards builder and preview (Gradio only)

    def check_config(self, config, cuda):
        from studio.tasks.grpo.setup import check

        check(config, cuda)

    def setup(self, config, hw, train_records, eval_records):
        from studio.tasks.grpo.setup import setup_grpo

        return setup_grpo(config, hw, train_records, eval_records)

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None):
        from studio.tasks.grpo.evaluate import evaluate_grpo

        return evaluate_grpo(folder, config, data_path, limit, max_new_tokens, report, models)

    def progress_note(self, eval_event: dict) -> str:
        value = eval_event.get("eval_reward")
        return f"reward {value:.3f}" if isinstance(value, (int, float)) else ""

    def merged_model(self, folder, config):
        from studio.tasks.chat.export import merged_model

        return merged_model(folder, config)

    def load_snippet(self, kind, path):
        from studio.tasks.chat.export import load_snippet

        return load_snippet(kind, path)

    def check_prompts(self, config, limit):
        from studio.tasks.grpo.data import held_out

        items, _, _ = held_out(config, None, limit)
        return [e["prompt"] for e in items]

    def system_prompt(self, config):
        return config.data.system_prompt.strip() or None

    def card_data_lines(self, config):
        names = ", ".join(f"{e.get('kind')} (weight {e.get('weight', 1)})" for e in config.rewards or [])
        return [f"- Prompts trained with GRPO against rewards: {names}"]

    def suits_model(self, info):
        return False  # picked by choice, not by the data or the model

    def model_advice(self, config, info):
        if info and models.is_encoder(info):
            return [f"{config.model.source} is a text encoder: it cannot generate replies; pick a chat model"]
        return []


TASK = GrpoTask()
