"""The web studio's endpoints driven with gradio_client (no browser), on the tiny random model: choose the
model, load a sample, start a run, poll it to the end, chat with base and tuned, list and show runs."""

import socket
import time

import pytest

from studio.ui.train_tab import KEYS, initial_values

gradio_client = pytest.importorskip("gradio_client")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from studio.ui.app import build_app

    demo = build_app(tmp_path_factory.mktemp("runs"))
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", demo
    demo.close()


def wait_finished(client, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        chart, progress, status, _stop = client.predict(api_name="/poll_run")
        if any(s in progress for s in ("finished", "failed", "stopped")):
            return progress, status
        time.sleep(0.5)
    raise AssertionError(f"run did not finish: {progress}")


def test_whole_path_through_the_endpoints(app_url, tiny_model_dir):
    from studio.ui.data_tab import samples

    url, demo = app_url
    client = gradio_client.Client(url, verbose=False)

    # Model: a local folder; the facts and the estimate come back as text
    message, facts, estimate = client.predict("Local folder or .gguf file", "smollm2", "", tiny_model_dir, "lora",
                                              api_name="/describe_model")
    assert "Using" in message and "LlamaForCausalLM" in facts and "lora" in estimate
    bad = client.predict("Local folder or .gguf file", "smollm2", "", "/no/such/folder", "lora", api_name="/describe_model")
    assert "not found" in bad[0] and "Traceback" not in bad[0]

    # Data: the shipped pirate sample
    pirate = dict(samples())["pirate_style.jsonl"]
    out = client.predict(pirate, api_name="/load_sample")
    assert "60 records" in out[0] and "prompt_completion" in out[1]
    assert any("No problems found" in str(x) for x in out)  # the health report

    # Train: a tiny run with the Quick demo preset, cut short
    values = initial_values()
    values.update({"train.max_steps": 4, "train.batch_size": 4, "data.max_length": 64, "lora.r": 4, "lora.alpha": 8})
    message, _timer = client.predict("client-test", *[values[k] for k in KEYS], api_name="/start_training")
    assert "Started" in message, message
    progress, status = wait_finished(client)
    assert "finished" in progress and "step 4/4" in progress, progress
    assert "Finished" in status
    run_id = demo.studio.store.list()[0].id
    events = demo.studio.store.events(run_id, ("log",))
    assert len(events) == 4

    # Runs: listed and shown with its chart
    table, pick = client.predict(None, api_name="/list_runs")
    assert run_id in str(table) and pick["value"] == run_id
    shown = client.predict(run_id, api_name="/show_run")
    assert "finished" in shown[0] and "python -m studio train" in shown[3]

    # Chat: one message, two replies (base and tuned)
    pick, which = client.predict(None, api_name="/chat_runs")
    assert pick["value"] == run_id and "Tuned" in which
    _, base, tuned, prompt, msg = client.predict("What is the capital of Spain?", [], [], run_id, "", 0.0, 0.9, 8, 1.0,
                                                 api_name="/chat")
    assert [m["role"] for m in base] == ["user", "assistant"] and [m["role"] for m in tuned] == ["user", "assistant"]
    assert base[1]["content"] and tuned[1]["content"]
    assert "What is the capital of Spain?" in prompt and "Traceback" not in msg


def test_errors_come_back_as_messages(app_url):
    url, _ = app_url
    client = gradio_client.Client(url, verbose=False)
    values = initial_values()
    message, _ = client.predict("no-data", *[values[k] for k in KEYS], api_name="/start_training")
    assert "no training data" in message and "Data tab" in message
    assert "no run to stop" in client.predict(api_name="/stop_run")
    shown = client.predict(None, api_name="/list_runs")
    assert isinstance(shown, tuple)
