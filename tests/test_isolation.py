"""A shared studio: two people signed in through Gradio's sign-in call every public endpoint with the other's run
ids and file paths. Everything is refused, nothing of the other's runs shows (names, files, metrics), nothing of
theirs changes. Also: the Admin tab's endpoints refuse non-admins, and an admin sees everyone."""

import json
import socket
import time

import pytest

from studio.core.config import StudioConfig
from studio.core.runfolder import RunFolder
from studio.server.runs import RunStore
from studio.server.users import UserBook

gradio_client = pytest.importorskip("gradio_client")

SECRET = "ALICE-SECRET-7731"  # in Alice's run status, events and config: must never reach Bob
ALICE_MODEL = "alice-private-model-0420"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(runs_dir, access, store) -> tuple:
    """The studio on a free 127.0.0.1 port, launched as ``studio.ui.app.launch`` does (its sign-in guard included);
    (demo, url). The caller closes the demo."""
    from studio.ui.app import build_app

    demo = build_app(runs_dir, access=access, store=store)
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **access.launch_options())
    return demo, f"http://127.0.0.1:{port}/"


def alice_run(store: RunStore, owner: str = "alice") -> tuple[str, str]:
    """A finished LoRA run of Alice's (``owner``: her account id) with a model folder and a data file of hers;
    (run id, data file path)."""
    folder = RunFolder(store.root / "20260101-000000-alice-run")
    folder.path.mkdir(parents=True)
    data = store.user_dir(owner) / "uploads" / "alice-data.jsonl"
    data.parent.mkdir(parents=True)
    data.write_text(json.dumps({"prompt": f"{SECRET} question", "completion": "answer"}) + "\n")
    cfg = StudioConfig().with_overrides([f"model.source=/models/{ALICE_MODEL}", f"data.train={data}", f"owner={owner}"])
    cfg.save(folder.config_file)
    folder.emit({"type": "start", "max_steps": 10, "model": ALICE_MODEL, "method": "lora", "device": "cpu",
                 "train_examples": 9, "eval_examples": 1, "time": 0})
    folder.emit({"type": "log", "step": 10, "max_steps": 10, "loss": 0.4321, "elapsed": 5.0})
    folder.emit({"type": "warning", "message": SECRET})
    folder.write_status(state="finished", step=10, max_steps=10, owner=owner, message=SECRET, started=time.time())
    (folder.path / "model").mkdir()
    (folder.path / "model" / "adapter_config.json").write_text("{}")
    return folder.path.name, str(data)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from studio.ui.access import Access

    root = tmp_path_factory.mktemp("shared")
    book = UserBook(root / "users.json")
    book.add("alice", "alice-password")
    book.add("bob", "bob-password")
    book.add("teach", "teach-password", admin=True)
    store = RunStore(root / "runs", launcher="inline")
    run_id, data = alice_run(store, owner=book.holder("alice").id)
    demo, url = serve(root / "runs", Access("users", book), store)
    yield {"url": url, "demo": demo, "store": store, "run_id": run_id, "data": data, "book": book}
    demo.close()


def client(shared, name):
    return gradio_client.Client(shared["url"], auth=(name, f"{name}-password"), verbose=False)


def text_of(result) -> str:
    return json.dumps(result, default=str)


def test_sign_in_is_required(shared):
    with pytest.raises(Exception):
        gradio_client.Client(shared["url"], auth=("bob", "wrong-password"), verbose=False)
    with pytest.raises(Exception):
        gradio_client.Client(shared["url"], verbose=False)


def test_the_owner_sees_her_run_so_the_markers_would_show(shared):
    alice = client(shared, "alice")
    table, pick = alice.predict(None, api_name="/list_runs")
    assert shared["run_id"] in text_of(table)
    shown = alice.predict(shared["run_id"], api_name="/show_run")
    assert SECRET in text_of(shown)


def test_every_endpoint_refuses_another_persons_run_and_files(shared):
    """Bob calls every public endpoint, each string parameter set in turn to Alice's run id, her run folder, her
    data file and a path that climbs out of his folder: no response carries anything of Alice's."""
    bob = client(shared, "bob")
    run_dir = str(shared["store"].root / shared["run_id"])
    probes = [shared["run_id"], run_dir, shared["data"], f"../{shared['run_id']}", f"{run_dir}/model"]
    api = bob.view_api(return_format="dict", print_info=False)
    endpoints = api["named_endpoints"]
    assert {"/show_run", "/chat", "/export", "/evaluate", "/classify", "/stop_run", "/stop_listed_run", "/resume_run",
            "/list_runs", "/load_sample", "/admin_runs", "/admin_stop", "/admin_delete"} <= set(endpoints)
    calls = 0
    for name, info in endpoints.items():
        params = info["parameters"]
        string_slots = [i for i, p in enumerate(params) if (p.get("python_type") or {}).get("type") == "str"]
        for slot in string_slots or [None]:
            for probe in probes if slot is not None else [None]:
                args = [p["parameter_default"] if p.get("parameter_has_default") else None for p in params]
                if slot is not None:
                    args[slot] = probe
                try:
                    result = bob.predict(*args, api_name=name)
                except Exception as err:  # noqa: BLE001 - a refusal is fine; a leak in the message is not
                    result = str(err)
                calls += 1
                out = text_of(result)
                assert SECRET not in out and ALICE_MODEL not in out and "0.4321" not in out, (name, probe, out[:300])
    assert calls > 40
    info = shared["store"].info(shared["run_id"])  # nothing of Alice's changed
    assert info.state == "finished" and info.has_model and (shared["store"].root / shared["run_id"]).exists()


def test_refusals_read_as_no_such_run(shared):
    bob = client(shared, "bob")
    table, _ = bob.predict(None, api_name="/list_runs")
    assert shared["run_id"] not in text_of(table)
    with pytest.raises(Exception, match="not in the list of choices"):  # Gradio checks picks against his own list
        bob.predict(shared["run_id"], api_name="/show_run")
    assert "only an admin" in text_of(bob.predict(None, api_name="/admin_runs"))


def handler(demo, api_name):
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


def test_handlers_check_the_owner_themselves(shared):
    """Below Gradio's own checks (a dropdown accepts only the choices it was given in that session), each handler
    refuses another person's run on its own: called directly as Bob, every one says "no run named"."""
    from types import SimpleNamespace

    demo, rid = shared["demo"], shared["run_id"]
    bob = SimpleNamespace(username="bob")
    missing = f"no run named '{rid}'"
    assert missing in text_of(handler(demo, "show_run")(rid, request=bob))
    assert missing in text_of(handler(demo, "stop_listed_run")(rid, request=bob))
    assert missing in text_of(handler(demo, "resume_run")(rid, request=bob))
    assert missing in text_of(handler(demo, "export")(rid, False, progress=lambda *a, **k: None, request=bob))
    assert missing in text_of(handler(demo, "evaluate")(rid, None, 2, 8, progress=lambda *a, **k: None, request=bob))
    replies = list(handler(demo, "chat")("hi", [], [], rid, "smollm2", "", 0.0, 0.9, 8, 1.0, request=bob))
    assert missing in text_of(replies[-1])
    assert missing in text_of(handler(demo, "compare_runs")([rid, rid], "step", request=bob))
    assert missing in text_of(handler(demo, "grpo_samples")(rid, request=bob)[0])  # a task panel's handler too
    assert "only an admin" in text_of(handler(demo, "admin_delete")(rid, request=bob))
    assert "only an admin" in text_of(handler(demo, "admin_stop")(rid, request=bob))
    moved = handler(demo, "describe_model")("Local folder or .gguf file", "smollm2", "", str(shared["store"].root / rid / "model"),
                                            "lora", {}, request=bob)
    assert "no model named" in text_of(moved[0])
    upload = handler(demo, "load_upload")(shared["data"], "smollm2", 256, {}, request=bob)
    assert "no file named 'alice-data.jsonl'" in text_of(upload[0])
    sample = handler(demo, "load_sample")(shared["data"], "smollm2", 256)
    assert "no sample named" in text_of(sample[0])
    for out in (text_of(handler(demo, n)(rid, request=bob)) for n in ("show_run", "stop_listed_run")):
        assert SECRET not in out and ALICE_MODEL not in out
    assert shared["store"].info(rid).state == "finished" and (shared["store"].root / rid).exists()


def test_an_admin_sees_everyone(shared):
    teach = client(shared, "teach")
    rows, _, people, _ = teach.predict(None, api_name="/admin_runs")
    assert shared["run_id"] in text_of(rows) and "alice" in text_of(rows)
    assert "teach" in people


def test_a_run_started_from_the_page_belongs_to_who_started_it(shared):
    from studio.ui.train_tab import KEYS, initial_values

    bob = client(shared, "bob")
    bob.predict("pirate_style.jsonl", api_name="/load_sample")
    values = initial_values()
    values.update({"train.max_steps": 1, "train.batch_size": 2, "data.max_length": 32})
    message, _ = bob.predict("bobs-run", *[values[k] for k in KEYS], api_name="/start_training")
    assert "Started" in message, message
    run = next(r for r in shared["store"].list() if "bobs-run" in r.id)
    assert run.owner == shared["book"].holder("bob").id != "bob"  # an account id, not the name
    shared["store"].stop(run.id)
    shared["store"].wait(run.id, 120)
    table, _ = client(shared, "alice").predict(None, api_name="/list_runs")
    assert run.id not in text_of(table)
