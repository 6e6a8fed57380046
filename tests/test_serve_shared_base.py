"""The web studio's serving hub: LoRA runs of one base, switched on by different people, share one loaded copy of
the base; each person still sees only their own runs, gets the replies their run gives alone, and stopping removes
only their own adapters (the base closes when its last user stops)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from studio.serve import loading
from studio.serve.errors import ApiError
from studio.serve.generate import Params, Reply, encode
from studio.serve.hub import Hub
from tests.conftest import write_jsonl
from tests.test_serve import _full_run, _lora_run

PROMPT = "Where is the treasure?"


def reply(served) -> str:
    return "".join(Reply(served, encode(served, PROMPT, chat=False), Params(max_tokens=8, temperature=0)))


def params(loaded) -> int:
    return sum(p.numel() for p in loaded.model.parameters())


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("shared-base")
    data = write_jsonl(d / "chat.jsonl", [{"messages": [{"role": "user", "content": f"Q{i}?"},
                                                        {"role": "assistant", "content": f"A{i}."}]} for i in range(4)])
    return {"alice": _lora_run(d / "alice-run", tiny_model_dir, data, 1),
            "bob": _lora_run(d / "bob-run", tiny_model_dir, data, 2),
            "carol": _full_run(d / "carol-run", tiny_model_dir, data)}


def test_two_people_share_one_base_and_stay_apart(runs):
    alone = {}
    for who in ("alice", "bob"):
        served = loading.load(loading.plan([runs[who]]), "cpu", log=lambda _: None)
        alone[who] = reply(served[f"{who}-run"])
        alone[f"{who}:base"] = reply(served[f"{who}-run:base"])
        loading.release(served)
    assert alone["alice"] != alone["bob"]

    hub = Hub("cpu")
    mine = {who: hub.start(who, [runs[who]]) for who in ("alice", "bob")}
    base = mine["alice"]["alice-run"].loaded
    assert base is mine["bob"]["bob-run"].loaded is mine["bob"]["bob-run:base"].loaded  # one copy, not two
    assert list(hub._bases.values()) == [base] and base.users == 2 and len(base.adapters) == 2
    assert any("loaded already; shared with bob-run" in line for line in hub.lines)
    assert sorted(hub.models("alice")) == ["alice-run", "alice-run:base"]
    assert sorted(hub.models("bob")) == ["bob-run", "bob-run:base"]

    # requests of both people at once, on the one base: each gets its own run's reply, as served alone
    asks = [("alice", "alice-run"), ("bob", "bob-run"), ("alice", "alice-run:base"), ("bob", "bob-run")] * 2
    with ThreadPoolExecutor(len(asks)) as pool:
        got = list(pool.map(lambda a: reply(hub.models(a[0])[a[1]]), asks))
    assert got == [alone[who if model.endswith("-run") else f"{who}:base"] for who, model in asks]

    # Alice switches on again (the same run): her old adapter goes, Bob's stays, the base stays shared
    bob_adapter = mine["bob"]["bob-run"].adapter
    old = mine["alice"]["alice-run"].adapter
    mine["alice"] = hub.start("alice", [runs["alice"]])
    assert mine["alice"]["alice-run"].loaded is base and base.users == 2
    assert old not in base.adapters and old not in base.model.peft_config and bob_adapter in base.model.peft_config
    assert reply(hub.models("alice")["alice-run"]) == alone["alice"]

    assert hub.stop("alice") and hub.models("alice") == {}
    assert list(base.adapters) == [bob_adapter] and list(base.model.peft_config) == [bob_adapter]
    assert base.users == 1 and base.batcher._thread.is_alive()
    assert reply(hub.models("bob")["bob-run"]) == alone["bob"]
    assert reply(hub.models("bob")["bob-run:base"]) == alone["bob:base"]

    hub.stop("bob")
    base.batcher._thread.join(timeout=10)
    assert hub._bases == {} and base.users == 0 and not base.batcher._thread.is_alive()


def test_a_full_fine_tune_stays_its_owners_and_the_base_is_back_plain(runs):
    hub = Hub("cpu")
    alice = hub.start("alice", [runs["alice"]])
    carol = hub.start("carol", [runs["carol"]])
    base = alice["alice-run"].loaded
    assert carol["carol-run:base"].loaded is base and carol["carol-run"].loaded is not base
    with_adapter = params(base)
    assert hub.stop("alice") and base.users == 1 and not base.adapters
    assert params(base) < with_adapter  # the LoRA weights are gone: the plain base model serves Carol's base id
    with pytest.raises(ApiError) as err:  # a request that still held Alice's stopped run
        reply(alice["alice-run"])
    assert err.value.status == 404 and err.value.code == "model_not_found"
    plain = loading.load(loading.plan([runs["carol"]]), "cpu", log=lambda _: None)
    assert reply(hub.models("carol")["carol-run:base"]) == reply(plain["carol-run:base"])
    loading.release(plain)
    hub.stop("carol")
    assert hub._bases == {}
