"""The web studio's endpoints driven with gradio_client (no browser), on the tiny random model: choose the
model, load a sample, start a run, poll it to the end, chat with base and tuned, list and show runs."""

import json
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

    url, demo = app_url
    client = gradio_client.Client(url, verbose=False)

    # Model: a local folder; the facts and the estimate come back as text
    message, facts, estimate = client.predict("Local folder or .gguf file", "smollm2", "", tiny_model_dir, "lora",
                                              api_name="/describe_model")
    assert "Using" in message and "LlamaForCausalLM" in facts and "lora" in estimate
    bad = client.predict("Local folder or .gguf file", "smollm2", "", "/no/such/folder", "lora", api_name="/describe_model")
    assert "not found" in bad[0] and "Traceback" not in bad[0]

    # Data: the shipped pirate sample
    out = client.predict("pirate_style.jsonl", api_name="/load_sample")  # offered by name, never by server path
    assert "60 records" in out[0] and "prompt_completion" in out[1]
    assert any("No problems found" in str(x) for x in out)  # the health report
    fixed = client.predict([], api_name="/apply_fixes")  # a clean file: nothing to tick, and the button says so
    assert "Nothing to fix" in str(fixed[0]), fixed[0]

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

    # A run cut off by a restart shows as interrupted and resumes from the Runs view
    demo.studio.store.wait(run_id, 60)  # its training process has ended, not only written its last status
    status = demo.studio.store.folder(run_id).status_file
    data = json.loads(status.read_text())
    data.update(state="running", pid=999_999_999)
    status.write_text(json.dumps(data))
    client.predict(None, api_name="/list_runs")
    shown = client.predict(run_id, api_name="/show_run")
    assert "interrupted" in shown[0] and "Resume" in shown[2]
    assert "Resumed" in client.predict(run_id, api_name="/resume_run")
    assert demo.studio.store.wait(run_id, 120).state == "finished"


def test_upload_and_fix(app_url, tmp_path):
    url, demo = app_url
    client = gradio_client.Client(url, verbose=False)
    rows = [{"text": f"review number {i} was {'great' if i % 2 else 'awful'}", "label": "pos" if i % 2 else "neg"}
            for i in range(20)]
    rows += rows[:3]  # three exact duplicates
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    out = client.predict(gradio_client.handle_file(str(path)), api_name="/load_upload")
    assert "23 records" in out[0] and "classification" in out[1]
    assert any("duplicate" in str(x) for x in out)
    assert (demo.studio.store.user_dir("") / "uploads" / "reviews.csv").exists()  # kept with the runs, not in a temp folder
    fixed = client.predict(["drop_duplicates"], api_name="/apply_fixes")
    assert "20 records (drop_duplicates: removed 3)" in fixed[0] and "now the training data" in fixed[0]
    bad = tmp_path / "notes.xlsx"
    bad.write_bytes(b"PK")
    with pytest.raises(gradio_client.exceptions.AppError, match="Invalid file type"):  # refused by the upload box
        client.predict(gradio_client.handle_file(str(bad)), api_name="/load_upload")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    out = client.predict(gradio_client.handle_file(str(broken)), api_name="/load_upload")
    assert "no usable records" in out[0] and "line 1" in out[0] and "Traceback" not in out[0]
    binary = tmp_path / "export.jsonl"
    binary.write_bytes(bytes(range(256)) * 8)
    out = client.predict(gradio_client.handle_file(str(binary)), api_name="/load_upload")
    assert "binary" in out[0] and "export.jsonl" in out[0]
    assert "uploads" not in out[0]  # named as the person knows it, not by the server's copy


def test_errors_come_back_as_messages(app_url):
    url, _ = app_url
    client = gradio_client.Client(url, verbose=False)
    values = initial_values()
    message, _ = client.predict("no-data", *[values[k] for k in KEYS], api_name="/start_training")
    assert "no training data" in message and "Data tab" in message
    assert "no run to stop" in client.predict(api_name="/stop_run")
    shown = client.predict(None, api_name="/list_runs")
    assert isinstance(shown, tuple)
