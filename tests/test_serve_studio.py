"""The Export tab's Serve switch: the studio serves a person's runs under /v1 on its own address. The snippet and
curl line the page shows work as pasted; on a shared studio each API key reaches only its owner's runs, a revoked
key is refused and a key over its rate gets a 429."""

import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest

from studio.core.runfolder import RunFolder
from studio.server.policy import Policy
from studio.server.runs import RunStore
from studio.server.users import UserBook
from tests.conftest import write_jsonl
from tests.test_isolation import serve
from tests.test_serve import _lora_run

gradio_client = pytest.importorskip("gradio_client")
openai = pytest.importorskip("openai")

RATE = 4  # requests per key per minute on the shared studio below


def finished_run(store: RunStore, name: str, owner: str, tiny_model_dir: str, seed: int) -> str:
    folder = RunFolder(store.root / name)
    data = write_jsonl(store.root.parent / f"{name}.jsonl",
                       [{"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": f"A{i}."}]}
                        for i in range(4)])
    _lora_run(folder.path, tiny_model_dir, data, seed)
    folder.write_status(state="finished", step=1, max_steps=1, owner=owner)
    return name


def run_snippet(code: str, key: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "STUDIO_API_KEY"}
    if key:
        env["STUDIO_API_KEY"] = key
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_the_switch_serves_and_the_shown_snippet_works(tmp_path, tiny_model_dir):
    from studio.ui.access import Access

    store = RunStore(tmp_path / "runs", launcher="inline")
    run_id = finished_run(store, "20260101-000000-pirate", None, tiny_model_dir, 1)
    demo, url = serve(tmp_path / "runs", Access(), store)
    try:
        client = gradio_client.Client(url, verbose=False)
        offer = next(d.fn for d in demo.fns.values() if d.fn.__name__ == "serve_this_too")
        assert offer(run_id, []) == [run_id]  # the run picked to export is offered to serve
        assert offer(run_id, ["another"]) != [run_id] and offer("20260101-000000-nobody", []) != ["20260101-000000-nobody"]
        status, code, line, _ = client.predict(True, [run_id], api_name="/serve_switch")
        assert "Serving" in status and f"{url}v1" in status and "backend: transformers" in status
        assert "stream=True" in code and run_id in code
        printed = run_snippet(code)
        assert printed.strip()  # the streamed reply, printed piece by piece
        if shutil.which("curl"):
            out = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=120).stdout
            assert '"object": "chat.completion"' in out or '"object":"chat.completion"' in out
        models = httpx.get(f"{url}v1/models").json()
        assert [m["id"] for m in models["data"]] == [run_id, f"{run_id}:base"]
        status, code, line, _ = client.predict(False, [run_id], api_name="/serve_switch")
        assert "Not serving" in status and not code
        gone = httpx.post(f"{url}v1/chat/completions", json={"model": run_id, "messages": [{"role": "user", "content": "hi"}]})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "model_not_found"
        assert httpx.get(url).status_code == 200  # the page itself is still Gradio's
    finally:
        demo.close()


def test_what_is_served_is_served_again_after_a_restart_and_only_if_still_theirs(tmp_path, tiny_model_dir):
    from studio.ui.access import Access
    from studio.ui.serving import STATE_FILE, Serving

    store = RunStore(tmp_path / "runs", launcher="inline")
    run_id = finished_run(store, "20260101-000000-kept", None, tiny_model_dir, 1)
    ask = {"model": run_id, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0}
    demo, url = serve(tmp_path / "runs", Access(), store)
    try:
        gradio_client.Client(url, verbose=False).predict(True, [run_id], "transformers",
                                                         api_name="/serve_switch")
        before = httpx.post(f"{url}v1/chat/completions", json=ask, timeout=60).json()["choices"][0]["message"]
    finally:
        demo.close()
    assert (tmp_path / STATE_FILE).exists()
    demo, url = serve(tmp_path / "runs", Access(), store)  # the studio restarted: nothing loaded yet
    try:
        after = httpx.post(f"{url}v1/chat/completions", json=ask, timeout=60)  # an API client comes first
        assert after.status_code == 200 and after.json()["choices"][0]["message"] == before
        # the page, opened now, shows it served: the switch on, the run picked, the snippet
        panel = next(d.fn for d in demo.fns.values()
                     if d.fn.__module__ == "studio.ui.serve_panel" and d.fn.__name__ == "choices")
        picked, switch, status, code, _curl, backend = panel()
        assert picked["value"] == [run_id] and switch is True and "switched on earlier" in status and run_id in code
        assert backend["value"] == "transformers"
        client = gradio_client.Client(url, verbose=False)
        client.predict(False, [run_id], "transformers", api_name="/serve_switch")
    finally:
        demo.close()
    assert "kept" not in (tmp_path / STATE_FILE).read_text()  # switched off: not served again after the next restart

    # what a person served is served again only while the runs are still theirs (a run handed over is not)
    other = finished_run(store, "20260101-000000-handed", "bob", tiny_model_dir, 2)
    (tmp_path / STATE_FILE).write_text(json.dumps({"alice": {"runs": [other], "backend": "transformers"}}))
    serving = Serving(Access(), tmp_path / "runs", "127.0.0.1", store=store)
    assert serving.models("alice") == {} and serving.hub.models("alice") == {}
    assert serving.remembered("alice") is None  # forgotten, so the refusal is not retried at every request


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_model_dir):
    from studio.ui.access import Access

    root = tmp_path_factory.mktemp("serve-shared")
    book = UserBook(root / "users.json")
    book.add("alice", "alice-password")
    book.add("bob", "bob-password")
    store = RunStore(root / "runs", launcher="inline")
    policy = Policy(serve_per_minute=RATE, given=frozenset({"serve_per_minute"}))
    alice = finished_run(store, "20260101-000000-alice-run", book.holder("alice").id, tiny_model_dir, 1)
    bob = finished_run(store, "20260101-000000-bob-run", book.holder("bob").id, tiny_model_dir, 2)
    demo, url = serve(root / "runs", Access("users", book, policy), store)
    people = {n: gradio_client.Client(url, auth=(n, f"{n}-password"), verbose=False) for n in ("alice", "bob")}
    yield {"url": url, "demo": demo, "alice": alice, "bob": bob, "people": people, "root": root}
    demo.close()


def make_key(shared, who: str) -> str:
    key, _msg, listing = shared["people"][who].predict("test", api_name="/serve_make_key")
    assert key.startswith("sk-studio-") and key.split("-")[2] in listing
    return key


def api(shared, key: str):
    return openai.OpenAI(base_url=f"{shared['url']}v1", api_key=key, max_retries=0)


def test_each_key_reaches_only_its_owners_runs(shared):
    alice_key, bob_key = make_key(shared, "alice"), make_key(shared, "bob")
    status, code, _, _ = shared["people"]["alice"].predict(True, [shared["alice"]], api_name="/serve_switch")
    assert "Serving" in status and 'os.environ["STUDIO_API_KEY"]' in code
    assert run_snippet(code, alice_key).strip()
    assert [m.id for m in api(shared, alice_key).models.list()] == [shared["alice"], f"{shared['alice']}:base"]
    # Bob can neither see nor use Alice's run, nor serve it: it reads as a run that does not exist
    assert list(api(shared, bob_key).models.list()) == []
    ask = [{"role": "user", "content": "hi"}]
    errors = {}
    for model in (shared["alice"], "20260101-000000-nobody"):
        with pytest.raises(openai.NotFoundError) as err:
            api(shared, bob_key).chat.completions.create(model=model, messages=ask, max_tokens=2)
        errors[model] = err.value.message.replace(model, "MODEL")
    assert len(set(errors.values())) == 1
    status, _, _, _ = shared["people"]["bob"].predict(True, [shared["alice"]], api_name="/serve_switch")
    assert "Serving" not in status and shared["alice"] not in str(api(shared, bob_key).models.list())
    wrong = httpx.get(f"{shared['url']}v1/models")  # no key at all
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert (shared["root"] / "api_keys.json").exists() and alice_key not in (shared["root"] / "api_keys.json").read_text()


def test_a_revoked_key_is_refused(shared):
    key = make_key(shared, "alice")
    assert api(shared, key).models.list() is not None
    key_id = key.split("-")[2]
    assert shared["people"]["bob"].predict(key_id, api_name="/serve_revoke_key")[0].count("no API key")  # not Bob's
    assert api(shared, key).models.list() is not None
    msg, listing = shared["people"]["alice"].predict(key_id, api_name="/serve_revoke_key")
    assert "Revoked" in msg and key_id not in listing
    with pytest.raises(openai.AuthenticationError):
        api(shared, key).models.list()


def test_a_key_over_its_rate_gets_a_429(shared):
    key = make_key(shared, "bob")
    for _ in range(RATE):
        assert httpx.get(f"{shared['url']}v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    res = httpx.get(f"{shared['url']}v1/models", headers={"Authorization": f"Bearer {key}"})
    assert res.status_code == 429 and int(res.headers["retry-after"]) >= 1
    assert res.json()["error"]["code"] == "rate_limit_exceeded" and "per minute" in res.json()["error"]["message"]
    with pytest.raises(openai.RateLimitError):
        api(shared, key).models.list()
    other = make_key(shared, "bob")  # a limit per key
    assert httpx.get(f"{shared['url']}v1/models", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_the_policy_can_forbid_serving(tmp_path):
    from studio.core.errors import StudioError

    (tmp_path / "policy.yaml").write_text("serve: false\nserve_per_minute: 10\n")
    policy = Policy.load(tmp_path / "policy.yaml")
    with pytest.raises(StudioError, match="serving runs from the page is off"):
        policy.check_serve()
    assert "no serving from the page" in policy.lines() and Policy().serve_rate(shared=True) == 60
    (tmp_path / "policy.yaml").write_text("serve: maybe\n")
    with pytest.raises(StudioError, match="serve has a bad value"):
        Policy.load(tmp_path / "policy.yaml")


def test_keys_are_needed_beyond_loopback_and_the_policy_can_close_the_api(tmp_path):
    from studio.serve.errors import ApiError
    from studio.ui.access import Access
    from studio.ui.serving import Serving

    assert not Serving(Access(), tmp_path / "runs", "127.0.0.1").needs_keys
    public = Serving(Access(), tmp_path / "runs", "0.0.0.0")
    assert public.needs_keys
    _, key = public.keys.make("", "laptop")
    assert public.gate(f"Bearer {key}") == ""
    for header in ("", "Bearer sk-studio-nope-nope", key):
        with pytest.raises(ApiError) as err:
            public.gate(header)
        assert err.value.status == 401
    closed = Serving(Access("single", None, Policy(serve=False)), tmp_path / "runs", "0.0.0.0")
    with pytest.raises(ApiError) as err:
        closed.gate(f"Bearer {key}")
    assert err.value.status == 403


def test_the_backend_choice_refuses_llama_cpp_clearly(shared, monkeypatch):
    from studio.serve import llamacpp

    alice, bob = shared["people"]["alice"], shared["people"]["bob"]
    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    status, code, _, on = alice.predict(True, [shared["alice"]], "llamacpp", api_name="/serve_switch")
    assert "Backend llama.cpp: llama.cpp is not installed" in status and "pip install 'finetune-studio[gguf]'" in status
    assert on is False and not code and "Serving" not in status
    monkeypatch.setattr(llamacpp, "installed", lambda: True)
    status, code, _, on = bob.predict(True, [shared["bob"]], "llamacpp", api_name="/serve_switch")
    assert f"{shared['bob']} has no GGUF export" in status and "GGUF section of the Export tab" in status
    assert on is False and not code and str(shared["root"]) not in status and "python -m studio" not in status
    nobody, _, _, _ = bob.predict(True, ["20260101-000000-nobody"], "llamacpp", api_name="/serve_switch")
    theirs, _, _, _ = bob.predict(True, [shared["alice"]], "llamacpp", api_name="/serve_switch")
    assert theirs.replace(shared["alice"], "RUN") == nobody.replace("20260101-000000-nobody", "RUN")


def test_each_start_shows_its_own_backend_line(shared, monkeypatch):
    from studio.serve import llamacpp

    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    alice, bob = shared["people"]["alice"], shared["people"]["bob"]
    mine, _, _, _ = alice.predict(True, [shared["alice"]], "transformers", api_name="/serve_switch")
    theirs, _, _, _ = bob.predict(True, [shared["bob"]], "auto", api_name="/serve_switch")
    assert "backend: transformers on " in mine and "Backend auto" not in mine
    assert "Backend auto: llama.cpp is not installed here" in theirs  # Bob's choice and why, not Alice's line
    again, _, _, _ = alice.predict(True, [shared["alice"]], "transformers", api_name="/serve_switch")
    assert "Backend auto" not in again and "backend: transformers on " in again
    for who in ("alice", "bob"):
        assert "Not serving" in shared["people"][who].predict(False, [], "transformers", api_name="/serve_switch")[0]


def test_the_page_serves_a_gguf_export_through_llama_cpp(shared):
    from tests.test_serve_llamacpp import gguf_export

    gguf_export(shared["root"] / "runs" / shared["alice"])
    key = make_key(shared, "alice")
    status, code, _, _ = shared["people"]["alice"].predict(True, [shared["alice"]], "llamacpp", api_name="/serve_switch")
    assert f"Serving `{shared['alice']}`" in status and "backend: llama.cpp (llama-cpp-python " in status
    assert "asked for with Backend llama.cpp" in status and str(shared["root"]) not in status
    assert [m.id for m in api(shared, key).models.list()] == [shared["alice"]]  # the merged model: no RUN:base
    res = api(shared, key).chat.completions.create(model=shared["alice"], messages=[{"role": "user", "content": "hi"}],
                                                   max_tokens=4, temperature=0)
    assert res.choices[0].message.content and res.usage.completion_tokens == 4
    assert list(api(shared, make_key(shared, "bob")).models.list()) == []
    status, _, _, _ = shared["people"]["alice"].predict(False, [], "llamacpp", api_name="/serve_switch")
    assert "Not serving" in status and list(api(shared, key).models.list()) == []


def test_a_removed_accounts_keys_end_with_it(tmp_path):
    from studio.serve.errors import ApiError
    from studio.ui.access import Access
    from studio.ui.serving import Serving

    book = UserBook(tmp_path / "users.json")
    book.add("carol", "carol-password")
    owner = book.holder("carol").id
    serving = Serving(Access("users", book, Policy()), tmp_path / "runs", "127.0.0.1")
    _info, key = serving.keys.make(owner, "laptop")
    assert serving.gate(f"Bearer {key}") == owner
    book.remove("carol")
    with pytest.raises(ApiError) as err:
        serving.gate(f"Bearer {key}")
    assert err.value.status == 401 and "revoked" in str(err.value)
