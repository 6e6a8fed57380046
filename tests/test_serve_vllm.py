"""``python -m studio serve --backend vllm``: each base model in one vLLM engine with its LoRA runs as adapters
switched per request, a full fine-tune in an engine of its own, requests through the same API as the other
backends. vLLM needs a CUDA GPU, so here its API is answered by the stand-in in ``tests/stand_ins`` (transformers on
the CPU): the tests check the backend's own work (which engine, which adapter, streaming, stopping early, refusals)
by comparing its replies with the transformers backend's for the same runs."""

import sys
import time
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.errors import StudioError
from studio.serve import backends, loading, vllm_engine
from tests.test_serve import ASK, KEY, runs, serving  # noqa: F401 - the runs fixture: two LoRA runs and a full one

openai = pytest.importorskip("openai")
STAND_IN = Path(__file__).parent / "stand_ins"


def _forget_vllm():
    for name in [n for n in sys.modules if n == "vllm" or n.startswith("vllm.")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def stand_in():
    """vLLM's API answered by the stand-in for this module's tests."""
    _forget_vllm()
    sys.path.insert(0, str(STAND_IN))
    import vllm

    vllm.AsyncLLMEngine.made.clear()
    yield vllm
    sys.path.remove(str(STAND_IN))
    _forget_vllm()


@pytest.fixture(scope="module")
def both(runs, stand_in):  # noqa: F811 - the fixture imported above
    """The same three runs served by vLLM (the stand-in) and by transformers, each on a free 127.0.0.1 port."""
    plans = loading.plan([runs["alpha"], runs["beta"], runs["gamma"]])
    lines = []
    by_vllm = backends.load("vllm", plans, "cuda", log=lines.append)
    by_transformers = loading.load(plans, "cpu", log=lambda _: None)
    for vllm_url in serving(by_vllm):
        for transformers_url in serving(by_transformers):
            yield {"vllm": openai.OpenAI(base_url=vllm_url, api_key=KEY, max_retries=0),
                   "transformers": openai.OpenAI(base_url=transformers_url, api_key=KEY, max_retries=0),
                   "served": by_vllm, "lines": lines}


def _ask(client, model, **options):
    return client.chat.completions.create(model=model, messages=ASK, **{"max_tokens": 12, "temperature": 0, **options})


def test_one_engine_per_base_and_one_per_full_fine_tune(both, stand_in):
    made = stand_in.AsyncLLMEngine.made
    assert len(made) == 2  # the tiny base (alpha, beta and every RUN:base) and gamma's own weights
    base, gamma = made
    assert base.args.options["enable_lora"] and base.args.options["max_loras"] == 2
    assert base.args.options["max_lora_rank"] == 8  # the adapters' rank 4, raised to the smallest vLLM has
    assert not gamma.args.options["enable_lora"] and gamma.args.model.endswith("gamma/model")
    assert base.args.options["gpu_memory_utilization"] == pytest.approx(0.85 / 2)
    served = both["served"]
    assert served["alpha"].loaded is served["beta"].loaded is served["gamma:base"].loaded
    assert served["alpha"].adapter.lora_path.endswith("alpha/model") and served["alpha:base"].adapter is None
    assert any(line.startswith("base model ") and "in vLLM for alpha, beta, gamma" in line for line in both["lines"])


def test_each_id_answers_as_the_transformers_backend_does(both, stand_in):
    replies = {}
    for model in ("alpha", "beta", "alpha:base", "gamma"):
        got, expected = _ask(both["vllm"], model), _ask(both["transformers"], model)
        assert got.choices[0].message.content == expected.choices[0].message.content, model
        assert got.choices[0].finish_reason == expected.choices[0].finish_reason
        assert got.usage.prompt_tokens == expected.usage.prompt_tokens
        assert got.usage.completion_tokens == expected.usage.completion_tokens
        replies[model] = got.choices[0].message.content
    assert len(set(replies.values())) == 4  # two adapters, their base and a full fine-tune: four different replies
    asked = {r["lora"].lora_name if r["lora"] else None for r in stand_in.AsyncLLMEngine.made[0].requests}
    assert asked == {"alpha", "beta", None}


def test_streamed_stopped_and_seeded_replies(both, stand_in):
    whole = _ask(both["vllm"], "beta").choices[0].message.content
    chunks = [c.choices[0].delta.content or "" for c in _ask(both["vllm"], "beta", stream=True) if c.choices]
    assert len(chunks) > 2 and "".join(chunks) == whole

    engine = stand_in.AsyncLLMEngine.made[0]
    aborted = len(engine.aborted)
    whole = _ask(both["vllm"], "beta", max_tokens=40).choices[0].message.content
    stop = whole[len(whole) // 2:len(whole) // 2 + 3]
    cut = _ask(both["vllm"], "beta", stop=[stop], max_tokens=40)
    assert cut.choices[0].message.content == whole[:whole.index(stop)] and cut.choices[0].finish_reason == "stop"
    assert cut.usage.completion_tokens < 40
    deadline = time.time() + 5
    while len(engine.aborted) == aborted and time.time() < deadline:
        time.sleep(0.05)
    assert len(engine.aborted) == aborted + 1  # the engine stopped writing once the stop string came

    sampled = [both["vllm"].chat.completions.create(model="alpha", messages=ASK, max_tokens=8, temperature=1.0,
                                                    seed=7).choices[0].message.content for _ in range(2)]
    assert sampled[0] == sampled[1] and engine.requests[-1]["params"].seed == 7


def test_refusals_say_what_to_do(runs, stand_in, monkeypatch):  # noqa: F811
    plans = loading.plan([runs["alpha"]])
    assert "needs a CUDA GPU" in vllm_engine.why_not(plans, "cpu")
    with pytest.raises(StudioError, match="--backend vllm: vLLM needs a CUDA GPU"):
        backends.choose_backend("vllm", plans, "cpu")
    assert backends.choose_backend("auto", plans, "cuda")[0] == "vllm"
    # the studio's page never starts vLLM (it would take the GPU's memory that runs train on)
    assert backends.choose_backend("auto", plans, "cuda", backends.PAGE) == ("transformers",
                                                                            "Backend auto: a CUDA GPU is available")
    with pytest.raises(StudioError, match="choose one of transformers, llamacpp, auto"):
        backends.choose_backend("vllm", plans, "cuda", backends.PAGE)
    monkeypatch.setenv("STUDIO_VLLM_GPU_MEMORY", "1.5")
    with pytest.raises(StudioError, match="STUDIO_VLLM_GPU_MEMORY=1.5: give the share"):
        vllm_engine.gpu_memory()
    monkeypatch.setattr(vllm_engine, "installed", lambda: False)
    assert main(["serve", runs["alpha"], "--port", "0", "--backend", "vllm"]) == 2
    why, backend = backends.choose_backend("auto", plans, "cuda")[::-1]
    assert backend == "transformers" and "vLLM is not installed here" in why and "pip install vllm" in why


def test_an_adapter_that_saves_whole_layers_is_refused(runs, stand_in, tmp_path):  # noqa: F811
    import json
    import shutil

    copy = tmp_path / "delta"
    shutil.copytree(runs["alpha"], copy)
    config = json.loads((copy / "model" / "adapter_config.json").read_text())
    (copy / "model" / "adapter_config.json").write_text(json.dumps({**config, "modules_to_save": ["lm_head"]}))
    reason = vllm_engine.why_not(loading.plan([str(copy)]), "cuda")
    assert "delta's adapter also trains whole layers (lm_head)" in reason and "--backend transformers" in reason


def test_bench_serves_a_run_through_vllm_against_its_transformers_model(runs, stand_in, capsys, monkeypatch):  # noqa: F811
    import json

    monkeypatch.setattr(vllm_engine, "why_not", lambda plans, device: None)  # no CUDA here: the stand-in runs anyway
    assert main(["bench", "--serve", "--run", runs["beta"], "--backend", "vllm", "--max-tokens", "5", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["backend"].startswith("backend: vLLM 0.0-stand-in on GPU") and res["model"] == runs["beta"]
    eight = res["runs"]["8"]
    assert eight["served"]["tokens"] == eight["generate"]["tokens"] > 0  # the same greedy replies as transformers
    assert eight["batch_sizes"] is None and eight["served"]["ttft_mean"] > 0
    assert main(["bench", "--serve", "--backend", "vllm"]) == 2
    assert "--backend vllm serves a run: add --run RUN" in capsys.readouterr().err
