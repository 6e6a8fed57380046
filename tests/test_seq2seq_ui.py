"""A T5 model through the web studio's endpoints (gradio_client, no browser): the Model tab names it an
encoder-decoder model for seq2seq, a run trains from the Train tab, the Chat tab answers with base and tuned on
the plain prompt, the Evaluate tab scores it."""

import pytest

from studio.ui.train_tab import KEYS, initial_values

from test_seq2seq import PROMPT, _data, tiny_t5_dir  # noqa: F401 - the session fixture
from test_ui_client import app_url, free_port, wait_finished  # noqa: F401 - the app fixture

gradio_client = pytest.importorskip("gradio_client")


def _text(message: dict) -> str:
    content = message["content"]  # a string, or a list of parts in Gradio 6
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def test_seq2seq_run_from_the_page(app_url, tiny_t5_dir, tmp_path):  # noqa: F811
    url, demo = app_url
    client = gradio_client.Client(url, verbose=False)
    message, facts, estimate = client.predict("Local folder or .gguf file", "smollm2", "", tiny_t5_dir, "lora",
                                              api_name="/describe_model")
    assert "T5ForConditionalGeneration" in facts and "sequence-to-sequence" in facts and "not used" in facts

    out = client.predict(gradio_client.handle_file(_data(tmp_path / "pc.jsonl")), api_name="/load_upload")
    assert "40 records" in out[0] and "prompt_completion" in out[1]

    values = initial_values()
    assert values["lora.target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]  # the Quick demo preset's
    # the Train tab's estimate warns in the task's words: chat with a T5, and LoRA targets that T5 lacks
    from studio.ui.train_tab import estimate_text

    data = {"path": "pc.jsonl", "format": "prompt_completion", "records": 40}
    text, _ = estimate_text(demo.studio, {**values, "task": "chat"}, tiny_t5_dir, None, data)
    assert "train it with the seq2seq task" in text
    text, _ = estimate_text(demo.studio, {**values, "task": "seq2seq"}, tiny_t5_dir, None, data)
    assert "q_proj, k_proj, v_proj, o_proj are not layers" in text and "use some of those or all-linear" in text
    values.update({"task": "seq2seq", "train.max_steps": 20,
                   "train.batch_size": 8, "train.learning_rate": 1e-2, "data.max_length": 64,
                   "lora.target_modules": ["q", "k", "v", "o"]})
    message, _timer = client.predict("s2s-page", *[values[k] for k in KEYS], api_name="/start_training")
    assert "Started" in message, message
    progress, _ = wait_finished(client)
    assert "finished" in progress, progress
    run_id = next(r.id for r in demo.studio.store.list() if r.task == "seq2seq")

    pick, _ = client.predict(None, api_name="/chat_runs")
    assert run_id in str(pick["choices"])
    _, base, tuned, prompt, msg = client.predict(PROMPT[0]["content"], [], [], run_id, "", 0.0, 0.9, 8, 1.0,
                                                 api_name="/chat")
    assert prompt == PROMPT[0]["content"] and "Traceback" not in msg  # the source text, no chat template
    assert _text(tuned[1]).startswith("The") and _text(base[1]) != _text(tuned[1])

    # the Evaluate tab's action, with the models the Chat tab loaded
    from studio.ui import evaluate_tab

    result = evaluate_tab.evaluate(demo.studio, run_id, None, 4, 8)
    assert result["task"] == "seq2seq" and result["tuned"]["eval_loss"] < result["base"]["eval_loss"]
    headers, rows = evaluate_tab.example_rows(result)
    assert "Tuned reply" in headers and len(rows) == 4
