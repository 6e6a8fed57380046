"""Preference tuning from the page (gradio_client, no browser, the tiny random model): upload pairs on the Data tab,
train them with the preference task, follow the run with its reward panel, chat with base and tuned."""

import pytest

from studio.ui.train_tab import KEYS, initial_values

from conftest import write_jsonl
from test_ui_client import app_url, free_port, wait_finished  # noqa: F401 - the app fixture and its helpers

gradio_client = pytest.importorskip("gradio_client")


def test_upload_pairs_train_preference_and_chat(app_url, tiny_model_dir, tmp_path):  # noqa: F811
    from studio.ui.data_tab import task_for

    url, demo = app_url
    client = gradio_client.Client(url, verbose=False)
    client.predict("Local folder or .gguf file", "smollm2", "", tiny_model_dir, "lora", api_name="/describe_model")
    rows = [{"question": f"What is {i} plus {i}?", "chosen_response": f"Happy to help: {2 * i}.",
             "rejected_response": "Go away." if i % 2 else "No idea, ask somebody else please."} for i in range(24)]
    rows.append({"question": "Same?", "chosen_response": "Same.", "rejected_response": "same"})
    out = client.predict(gradio_client.handle_file(write_jsonl(tmp_path / "pairs.jsonl", rows)), api_name="/load_upload")
    assert "25 records" in out[0] and "preference" in out[1]
    assert any("identical_pair" in str(x) or "same chosen and rejected" in str(x) for x in out)
    assert task_for("preference") == "preference"  # the Train tab's task follows the data's format

    values = initial_values()
    values.update({"task": "preference", "train.max_steps": 3, "train.batch_size": 4, "data.max_length": 64,
                   "lora.r": 4, "lora.alpha": 8, "train.eval_steps": 3})
    message, _timer = client.predict("pref-test", *[values[k] for k in KEYS], api_name="/start_training")
    assert "Started" in message, message
    progress, status = wait_finished(client, timeout=300)
    assert "finished" in progress and "step 3/3" in progress, (progress, status)
    run_id = next(r.id for r in demo.studio.store.list() if r.task == "preference")
    events = demo.studio.store.events(run_id)
    assert events[0]["task"] == "preference" and events[0]["format"] == "preference"
    assert all("reward_margin" in e for e in events if e["type"] == "log")

    pick, which = client.predict(None, api_name="/chat_runs")
    _, base, tuned, prompt, msg = client.predict("What is 3 plus 3?", [], [], run_id, "", 0.0, 0.9, 8, 1.0,
                                                 api_name="/chat")
    assert base[1]["content"] and tuned[1]["content"] and "Traceback" not in msg
