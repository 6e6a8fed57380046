"""``python -m studio serve``: the official openai client against tiny random runs served on 127.0.0.1."""

import threading
import time

import httpx
import pytest

from studio.cli.main import main
from studio.core.config import StudioConfig
from studio.core.chat_template import render_prompt
from tests.conftest import write_jsonl

openai = pytest.importorskip("openai")

KEY = "test-key-123"
SYSTEM = "You answer like a pirate."
ASK = [{"role": "user", "content": "Where is the treasure?"}]


def _config(run, tiny_model_dir, data, *extra):
    run.mkdir(parents=True, exist_ok=True)
    cfg = StudioConfig().with_overrides([f"model.source={tiny_model_dir}", f"data.train={data}", f"output_dir={run}",
                                         *extra])
    cfg.save(run / "config.yaml")


def _lora_run(run, tiny_model_dir, data, seed):
    """A LoRA run whose adapter holds random (not zero) B weights: it answers unlike its base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"]))
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data = torch.randn(p.shape, generator=gen) * 0.5
    model.save_pretrained(run / "model")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(run / "model")
    _config(run, tiny_model_dir, data, "method=lora")
    return str(run)


def _full_run(run, tiny_model_dir, data):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    gen = torch.Generator().manual_seed(3)
    for p in model.parameters():
        p.data += torch.randn(p.shape, generator=gen) * 0.05
    model.save_pretrained(run / "model")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(run / "model")
    _config(run, tiny_model_dir, data, "method=full")
    return str(run)


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    data = write_jsonl(d / "chat.jsonl", [{"messages": [{"role": "system", "content": SYSTEM},
                                                        {"role": "user", "content": f"Question {i}?"},
                                                        {"role": "assistant", "content": f"Answer {i}."}]}
                                          for i in range(12)])
    return {"alpha": _lora_run(d / "alpha", tiny_model_dir, data, 1), "beta": _lora_run(d / "beta", tiny_model_dir, data, 2),
            "gamma": _full_run(d / "gamma", tiny_model_dir, data), "data": data, "dir": d}


def serving(served: dict):
    """The app serving ``served`` (key ``KEY``) on a free 127.0.0.1 port in a thread of this process: yields its /v1
    address, and shuts it down when the caller's fixture ends."""
    import uvicorn

    from studio.cli.serve import bind
    from studio.serve.api import create_app

    sock = bind("127.0.0.1", 0)
    srv = uvicorn.Server(uvicorn.Config(create_app(served, KEY), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    srv.should_exit = True
    thread.join(timeout=20)
    sock.close()


@pytest.fixture(scope="module")
def server(runs):
    """The app on a free 127.0.0.1 port in a thread of this process; shut down at the end."""
    from studio.serve import loading

    lines = []
    served = loading.load(loading.plan([runs["alpha"], runs["beta"], runs["gamma"]]), "cpu", log=lines.append)
    for url in serving(served):
        yield {"url": url, "served": served, "lines": lines}


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server["url"], api_key=KEY, max_retries=0)


def _prompt_tokens(tokenizer, messages, tools=None):
    return len(tokenizer(render_prompt(tokenizer, messages, tools), add_special_tokens=False)["input_ids"])


def test_reply_with_usage_and_the_runs_system_prompt(client, server):
    res = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=8, temperature=0)
    choice = res.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length" and res.model == "alpha"
    tok = server["served"]["alpha"].tokenizer
    with_system = [{"role": "system", "content": SYSTEM}, *ASK]
    assert res.usage.prompt_tokens == _prompt_tokens(tok, with_system)
    assert res.usage.completion_tokens == 8 and res.usage.total_tokens == res.usage.prompt_tokens + 8
    own = client.chat.completions.create(model="alpha", messages=[{"role": "system", "content": "Be brief."}, *ASK],
                                         max_tokens=1, temperature=0)
    assert own.usage.prompt_tokens == _prompt_tokens(tok, [{"role": "system", "content": "Be brief."}, *ASK])


def test_streamed_reply_is_the_same_reply_in_chunks(client, server):
    whole = client.chat.completions.create(model="beta", messages=ASK, max_tokens=10, temperature=0)
    chunks = list(client.chat.completions.create(model="beta", messages=ASK, max_tokens=10, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 10 and chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
    raw = httpx.post(f"{server['url']}/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                     json={"model": "beta", "messages": ASK, "max_tokens": 3, "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n") and raw.text.startswith("data: {")


def test_model_list_has_each_run_and_its_base(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["alpha", "alpha:base", "beta", "beta:base", "gamma", "gamma:base"]
    assert client.models.retrieve("beta:base").id == "beta:base"


def test_unknown_model_is_a_404_in_openais_shape(client, server):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope", messages=ASK, max_tokens=2)
    assert err.value.code == "model_not_found" and "nope" in err.value.message
    raw = httpx.post(f"{server['url']}/completions", headers={"Authorization": f"Bearer {KEY}"},
                     json={"model": "nope", "prompt": "x"})
    assert raw.status_code == 404
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"} and raw.json()["error"]["param"] == "model"


def test_adapters_share_one_base_and_answer_differently(client, server, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    served = server["served"]
    assert served["alpha"].loaded is served["beta"].loaded is served["gamma:base"].loaded
    assert served["gamma"].loaded is not served["alpha"].loaded
    assert any("once for alpha, beta, gamma" in line for line in server["lines"])

    def reply(model):
        return client.chat.completions.create(model=model, messages=ASK, max_tokens=12, temperature=0).choices[0].message.content

    alpha, beta, alpha_base, beta_base, gamma = (reply(m) for m in ("alpha", "beta", "alpha:base", "beta:base", "gamma"))
    tok = served["alpha"].tokenizer
    ids = tok(render_prompt(tok, [{"role": "system", "content": SYSTEM}, *ASK]), add_special_tokens=False,
              return_tensors="pt")["input_ids"]
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        out = plain.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                             pad_token_id=tok.pad_token_id)
    expected = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert alpha_base == beta_base == expected
    assert len({alpha, beta, expected, gamma}) == 4
    assert reply("alpha") == alpha  # switching back to an adapter after the base and the other adapter


def test_a_key_is_required(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        res = httpx.get(f"{server['url']}/models", headers=headers)
        assert res.status_code == 401 and res.json()["error"]["code"] == "invalid_api_key"
        res = httpx.post(f"{server['url']}/chat/completions", headers=headers, content=b"{not json")
        assert res.status_code == 401  # before the body is read
    bad = openai.OpenAI(base_url=server["url"], api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="alpha", messages=ASK, max_tokens=2)


def test_requests_at_once_each_get_their_own_models_reply(client):
    from concurrent.futures import ThreadPoolExecutor

    def reply(model):
        return client.chat.completions.create(model=model, messages=ASK, max_tokens=10, temperature=0).choices[0].message.content

    names = ["alpha", "beta", "alpha:base", "gamma", "beta", "alpha"]
    alone = {m: reply(m) for m in set(names)}
    with ThreadPoolExecutor(len(names)) as pool:
        together = list(pool.map(reply, names))
    assert together == [alone[m] for m in names]


def test_bad_parameters_are_400s_without_a_traceback(client, server):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="alpha", messages=ASK, max_tokens=10**6)
    assert err.value.param == "max_tokens" and "over the model's limit of 512 tokens" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="alpha", messages=ASK, max_tokens=500)
    assert err.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="alpha", messages=ASK, temperature=5)
    assert err.value.param == "temperature"
    raw = httpx.post(f"{server['url']}/chat/completions", headers={"Authorization": f"Bearer {KEY}",
                                                                  "Content-Type": "application/json"}, content=b"{nope")
    assert raw.status_code == 400 and "not valid JSON" in raw.json()["error"]["message"]
    assert "Traceback" not in raw.text


def test_completions_plain_and_streamed(client):
    whole = client.completions.create(model="gamma", prompt="Once upon a time", max_tokens=6, temperature=0)
    assert whole.choices[0].text and whole.usage.completion_tokens == 6 and whole.choices[0].finish_reason == "length"
    streamed = client.completions.create(model="gamma", prompt="Once upon a time", max_tokens=6, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == whole.choices[0].text


def test_stop_strings_cut_the_reply(client):
    full = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=16, temperature=0).choices[0].message.content
    stop = full[len(full) // 2:len(full) // 2 + 3]
    cut = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=16, temperature=0, stop=[stop])
    assert cut.choices[0].message.content == full[:full.index(stop)]
    assert cut.choices[0].finish_reason == "stop" and cut.usage.completion_tokens < 16
    streamed = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=16, temperature=0, stop=stop, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == full[:full.index(stop)]


def test_a_seed_repeats_a_sampled_reply(client):
    def sample(seed):
        return client.chat.completions.create(model="beta", messages=ASK, max_tokens=10, temperature=1.0, seed=seed
                                              ).choices[0].message.content

    assert sample(7) == sample(7)
    assert len({sample(7), sample(8), sample(9)}) > 1


def test_tools_reach_the_chat_template(client, server):
    tools = [{"type": "function", "function": {"name": "find_treasure", "description": "Where the treasure is",
                                               "parameters": {"type": "object", "properties": {}}}}]
    res = client.chat.completions.create(model="alpha", messages=ASK, max_tokens=1, tools=tools)
    tok = server["served"]["alpha"].tokenizer
    with_system = [{"role": "system", "content": SYSTEM}, *ASK]
    assert res.usage.prompt_tokens == _prompt_tokens(tok, with_system, tools) > _prompt_tokens(tok, with_system)


# ---- start-up ---------------------------------------------------------------------------------------------
def test_a_classification_run_is_refused_at_start_up(runs, tiny_model_dir, capsys):
    run = runs["dir"] / "sorter"
    _config(run, tiny_model_dir, runs["data"], "task=classification")
    assert main(["serve", runs["alpha"], str(run)]) == 2
    err = capsys.readouterr().err
    assert "classification run" in err and "cannot be served" in err and "Traceback" not in err


def test_no_key_no_public_address(runs, capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: [s.close() for s in sockets])  # never serve
    assert main(["serve", runs["alpha"], "--host", "0.0.0.0"]) == 2
    assert "refusing to serve on 0.0.0.0 without an API key" in capsys.readouterr().err
    monkeypatch.delenv("STUDIO_TEST_EMPTY_KEY", raising=False)
    assert main(["serve", runs["alpha"], "--host", "0.0.0.0", "--api-key-env", "STUDIO_TEST_EMPTY_KEY"]) == 2
    assert "STUDIO_TEST_EMPTY_KEY" in capsys.readouterr().err


def test_first_line_names_the_backend(runs, capsys, monkeypatch):
    import uvicorn

    from studio.serve import backends, loading

    started = []

    def run(self, sockets=None):
        started.append(sockets[0].getsockname())
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setenv("STUDIO_TEST_KEY", KEY)
    assert main(["serve", runs["alpha"], "--port", "0", "--api-key-env", "STUDIO_TEST_KEY"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == backends.backend_line(*loading.pick_device()) and lines[0].startswith("backend: transformers on ")
    assert started and started[0][0] == "127.0.0.1"
    assert "alpha, alpha:base" in lines[-2] and "(key required)" in lines[-2]


def test_requests_together_share_one_batch_and_get_the_replies_they_get_alone(client, server):
    from concurrent.futures import ThreadPoolExecutor

    prompts = [f"Question {i}: " + "tell me more " * i for i in range(8)]  # different lengths: left padding

    def reply(i, stream=False):
        ask = [{"role": "user", "content": prompts[i]}]
        if stream:
            chunks = client.chat.completions.create(model="alpha", messages=ask, max_tokens=4 + i, temperature=0,
                                                    stream=True)
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return client.chat.completions.create(model="alpha", messages=ask, max_tokens=4 + i, temperature=0
                                              ).choices[0].message.content

    alone = [reply(i) for i in range(8)]
    batcher = server["served"]["alpha"].loaded.batcher
    before = len(batcher.batches)
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(reply, range(8)))
        streamed = list(pool.map(lambda i: reply(i, stream=True), range(8)))
    assert together == alone and streamed == alone
    assert max(batcher.batches[before:]) > 1  # some requests did share a generate


def test_bench_serve_measures_1_and_8_clients_against_generate(tiny_model_dir, capsys):
    import json

    assert main(["bench", "--serve", "--model", tiny_model_dir, "--max-tokens", "6", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(res["runs"]) == {"1", "8"} and res["backend"].startswith("backend: transformers on ")
    for n in ("1", "8"):
        for side in ("generate", "served"):
            assert res["runs"][n][side]["tokens_per_s"] > 0 and res["runs"][n][side]["ttft_mean"] > 0
    assert res["runs"]["8"]["served"]["tokens"] == res["runs"]["8"]["generate"]["tokens"]  # the same greedy replies
    assert max(res["runs"]["8"]["batch_sizes"]) > 1
