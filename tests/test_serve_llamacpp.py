"""``python -m studio serve --backend``: transformers by default, a run's GGUF export in llama.cpp when asked (and
the optional extra is installed), the choice and why on the first line; refusals that say what to do."""

import shutil
from pathlib import Path

import httpx
import pytest

from studio.cli.main import main
from studio.serve import backends, llamacpp, loading
from tests.conftest import write_jsonl
from tests.test_serve import ASK, KEY, SYSTEM, _prompt_tokens, _lora_run, serving

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def run(tiny_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-llamacpp")
    data = write_jsonl(d / "chat.jsonl", [{"messages": [{"role": "system", "content": SYSTEM},
                                                        {"role": "user", "content": f"Question {i}?"},
                                                        {"role": "assistant", "content": f"Answer {i}."}]}
                                          for i in range(12)])
    return _lora_run(d / "alpha", tiny_model_dir, data, 1)


@pytest.fixture
def no_serving(monkeypatch):
    """uvicorn never serves; the sockets it was given are recorded and closed."""
    import uvicorn

    started = []

    def fake_run(self, sockets=None):
        started.append(sockets[0].getsockname())
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    return started


# ---- without llama.cpp: the choice, the first line, the refusals ---------------------------------------------
def test_llamacpp_asked_without_the_extra_says_what_to_install(run, monkeypatch, capsys, no_serving):
    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    assert main(["serve", run, "--backend", "llamacpp", "--port", "0"]) == 2
    captured = capsys.readouterr()
    assert "--backend llamacpp: llama.cpp is not installed" in captured.err
    assert "pip install 'finetune-studio[gguf]'" in captured.err and "Traceback" not in captured.err
    assert not no_serving and "backend:" not in captured.out


def test_llamacpp_asked_for_a_run_without_a_gguf_export_says_how_to_make_one(run, monkeypatch, capsys, no_serving):
    monkeypatch.setattr(llamacpp, "installed", lambda: True)
    assert main(["serve", run, "--backend", "llamacpp", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "alpha has no GGUF export" in err and f"python -m studio export {run} --gguf" in err
    assert not no_serving


def test_default_and_auto_stay_on_transformers_and_say_why(run, monkeypatch, capsys, no_serving):
    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    assert main(["serve", run, "--port", "0"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("backend: transformers on ")
    assert "llama.cpp (llama_cpp) not installed (pip install 'finetune-studio[gguf]'" in first
    monkeypatch.setattr(llamacpp, "installed", lambda: True)
    assert main(["serve", run, "--port", "0"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "llama.cpp (llama_cpp) installed, not used: python -m studio serve RUN --backend llamacpp" in first
    assert main(["serve", run, "--port", "0", "--backend", "auto"]) == 0
    lines = capsys.readouterr().out.splitlines()
    if loading.pick_device()[0] == "cpu":
        assert lines[0].startswith("backend: transformers on CPU (fp32): --backend auto: alpha has no GGUF export")
    else:
        assert "--backend auto: a CUDA GPU is available" in lines[0]
    assert "alpha, alpha:base" in lines[-2] and len(no_serving) == 3


def test_the_newest_export_is_served_and_a_stale_one_is_named(run, tmp_path):
    import os

    from studio.core.runfolder import RunFolder

    copy = tmp_path / "alpha"
    shutil.copytree(run, copy)
    folder = RunFolder(copy)
    (copy / llamacpp.GGUF_FOLDER).mkdir()
    old, new, lora = (copy / llamacpp.GGUF_FOLDER / n for n in ("alpha-F16.gguf", "alpha-Q8_0.gguf", "alpha-lora-f16.gguf"))
    for i, path in enumerate((old, new, lora)):
        path.write_bytes(b"GGUF")
        os.utime(path, (1000 + i, 1000 + i))  # older than the run's model/
    assert llamacpp.gguf_file(folder) == new  # the newest file, never the LoRA alone
    lines = []
    plan = loading.plan([str(copy)])[0]
    llamacpp._warn_if_stale(plan, new, lines.append)
    assert lines == [f"alpha: warning: the GGUF export is older than the run's model/ (trained on after it was "
                     f"exported); export it again to serve the latest weights: python -m studio export {copy} --gguf"]
    os.utime(new, None)
    lines.clear()
    llamacpp._warn_if_stale(plan, new, lines.append)
    assert not lines


# ---- with llama.cpp: a GGUF export served, through the official openai client ----------------------------------
def gguf_export(run_dir) -> None:
    """The run's GGUF export (f16, unchecked) where the Export tab writes it; skips where llama.cpp is missing."""
    from studio.core.errors import StudioError
    from studio.export import llamacpp as export_llamacpp
    from studio.export.gguf import export_gguf

    if not llamacpp.installed():
        pytest.skip("llama.cpp (llama_cpp, the optional gguf extra) is not installed")
    try:
        export_llamacpp.ensure_converter()
    except StudioError as err:
        pytest.skip(f"llama.cpp's converter is not available here: {err}")
    export_gguf(run_dir, Path(run_dir) / llamacpp.GGUF_FOLDER, quant="f16", check=False)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    from studio.core.runfolder import RunFolder

    copy = tmp_path_factory.mktemp("exported") / "alpha"  # the run above stays without an export
    shutil.copytree(run, copy)
    RunFolder(copy).write_status(state="finished")  # the run is made by hand (test_serve's helper), not trained
    gguf_export(copy)
    return str(copy)


@pytest.fixture(scope="module")
def server(exported):
    lines = []
    plans = loading.plan([exported])
    served = backends.load("llamacpp", plans, "cpu", log=lines.append)
    for url in serving(served):
        yield {"url": url, "served": served, "lines": lines}
    for s in served.values():
        s.loaded.close()


def test_a_gguf_export_answers_in_llama_cpp_as_llama_cpp_itself_does(server):
    from studio.core.chat_template import render_prompt

    client = openai.OpenAI(base_url=server["url"], api_key=KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == ["alpha"]  # the export is the merged model: no alpha:base
    s = server["served"]["alpha"]
    assert isinstance(s.loaded, llamacpp.LlamaLoaded) and s.loaded.path.name == "alpha-F16.gguf"
    res = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=8, temperature=0)
    with_system = [{"role": "system", "content": SYSTEM}, *ASK]
    assert res.usage.prompt_tokens == _prompt_tokens(s.tokenizer, with_system)  # the run's system prompt, same tokens
    assert res.usage.completion_tokens == 8 and res.choices[0].finish_reason == "length"
    # llama-cpp-python's own completion on the same prompt writes the same greedy reply
    ids = s.loaded.model.tokenize(render_prompt(s.tokenizer, with_system).encode(), add_bos=False, special=True)
    with s.loaded.lock:
        own = s.loaded.model.create_completion(ids, max_tokens=8, temperature=0.0)
    assert res.choices[0].message.content == own["choices"][0]["text"] and res.choices[0].message.content

    chunks = list(client.chat.completions.create(model="alpha", messages=ASK, max_tokens=8, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == res.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 8

    done = client.completions.create(model="alpha", prompt="Once upon a time", max_tokens=5, temperature=0)
    assert done.usage.completion_tokens == 5 and done.choices[0].text


def test_limits_keys_and_errors_are_the_studios_own(server):
    headers = {"Authorization": f"Bearer {KEY}"}
    n_ctx = server["served"]["alpha"].context_length
    over = httpx.post(f"{server['url']}/chat/completions", headers=headers, timeout=30,
                      json={"model": "alpha", "messages": ASK, "max_tokens": n_ctx})
    assert over.status_code == 400 and over.json()["error"]["code"] == "context_length_exceeded"
    assert httpx.post(f"{server['url']}/completions", json={"model": "alpha", "prompt": "x"}).status_code == 401
    base = httpx.post(f"{server['url']}/completions", headers=headers, json={"model": "alpha:base", "prompt": "x"})
    assert base.status_code == 404 and base.json()["error"]["code"] == "model_not_found"


def test_first_line_names_llama_cpp_and_why(exported, capsys, no_serving):
    assert main(["serve", exported, "--port", "0", "--backend", "llamacpp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("backend: llama.cpp (llama-cpp-python ")
    assert "alpha: export-gguf/alpha-F16.gguf" in lines[0] and "asked for with --backend llamacpp" in lines[0]
    assert lines[-2].startswith("serving alpha at ") and "one request at a time" in lines[-2]
    if loading.pick_device()[0] == "cpu":
        assert main(["serve", exported, "--port", "0", "--backend", "auto"]) == 0
        assert capsys.readouterr().out.startswith("backend: llama.cpp (") and len(no_serving) == 2


def test_the_pages_hub_keeps_each_persons_backend_line_and_frees_gguf_files(exported):
    from studio.serve import generate
    from studio.serve.errors import ApiError
    from studio.serve.hub import Hub

    hub = Hub("cpu")
    mine = hub.start("alice", [exported], backend="llamacpp")
    loaded = mine["alpha"].loaded
    assert isinstance(loaded, llamacpp.LlamaLoaded) and list(mine) == ["alpha"]
    first = hub.said("alice")[0]
    assert first.startswith("backend: llama.cpp (") and "asked for with Backend llama.cpp" in first
    theirs = hub.start("bob", [exported])  # transformers, the default: Bob's own models, his own line
    assert hub.said("alice")[0] == first and hub.said("bob")[0].startswith("backend: transformers on ")
    assert "Backend llama.cpp on the Serve panel serves a run's GGUF export" in hub.said("bob")[0]
    assert sorted(theirs) == ["alpha", "alpha:base"] and theirs["alpha"].loaded is not loaded
    again = hub.start("alice", [exported], backend="llamacpp")  # a new start frees the file the old one held
    assert loaded.model._model.model is None and again["alpha"].loaded is not loaded
    held = again["alpha"]  # a request that took the run just before Alice switched it off
    ids = generate.encode(held, "Once upon a time", chat=False)
    assert "".join(generate.Reply(held, ids, generate.Params(max_tokens=3, temperature=0))) != ""
    worker = held.loaded.batcher
    assert hub.stop("alice") and hub.said("alice") == [] and hub.models("alice") == {}
    worker._thread.join(timeout=10)
    assert held.loaded.model._model.model is None  # freed by its worker, once done
    for late in (lambda: generate.encode(held, "hi", chat=False), lambda: list(generate.Reply(held, ids, generate.Params(3)))):
        with pytest.raises(ApiError) as err:  # the 404 of a model no longer served, never a call into freed memory
            late()
        assert err.value.status == 404 and err.value.code == "model_not_found"
    assert sorted(hub.models("bob")) == ["alpha", "alpha:base"] and hub.said("bob")
    assert hub.stop("bob") and hub._bases == {}
