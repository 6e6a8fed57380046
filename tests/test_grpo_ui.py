"""The Train tab's rewards builder for task grpo (gradio_client, no browser, the tiny random model): the table's rows
become the config's rewards, a bad row is named, and Preview scores the base model's replies."""

import pytest

from studio.core.config import StudioConfig
from studio.tasks.grpo.panel import entries_of, panel_value
from studio.ui.train_tab import with_panels

from conftest import write_jsonl
from test_ui_client import app_url, free_port  # noqa: F401 - the app fixture and its helpers

gradio_client = pytest.importorskip("gradio_client")


def test_reward_rows_become_the_runs_rewards():
    rows = [["numeric_match", 2, "column: answer, tolerance: 0.5"], ["avoids", None, "words: [sorry, cannot]"], ["", None, ""]]
    assert entries_of(rows) == [{"kind": "numeric_match", "weight": 2.0, "column": "answer", "tolerance": 0.5},
                                {"kind": "avoids", "words": ["sorry", "cannot"]}]
    panel = panel_value(rows, "Be brief.")
    cfg = with_panels(StudioConfig().with_overrides(["task=grpo"]), [panel])
    assert cfg.rewards[0]["column"] == "answer" and cfg.data.system_prompt == "Be brief."
    assert with_panels(StudioConfig(), [panel]).rewards == []  # a chat run keeps no rewards
    bad = panel_value([["length", "much", "max_words: 3"]], "")
    with pytest.raises(ValueError, match="reward row 1: weight 'much' is not a number"):
        with_panels(StudioConfig().with_overrides(["task=grpo"]), [bad])


def test_preview_from_the_page_scores_the_base_models_replies(app_url, tiny_model_dir, tmp_path):  # noqa: F811
    url, demo = app_url
    client = gradio_client.Client(url, verbose=False)
    client.predict("Local folder or .gguf file", "smollm2", "", tiny_model_dir, "lora", api_name="/describe_model")
    rows = [{"prompt": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(12)]
    client.predict(gradio_client.handle_file(write_jsonl(tmp_path / "prompts.jsonl", rows)), api_name="/load_upload")
    verdicts, table = client.predict(2, 2, api_name="/grpo_preview")
    assert "mentions" in verdicts and "never fires" in verdicts and "Traceback" not in verdicts
    assert table["headers"] == ["prompt", "reply", "mentions", "length", "total"] and len(table["data"]) == 4
