"""An operator's limits (STUDIO_POLICY) and the users file (STUDIO_USERS): refusals that name the limit and who
sets it, the instructor's locked settings, runs training at once per person, minutes per run, join codes."""

import json
import subprocess
import sys
import time

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.server.policy import Policy
from studio.server.runs import RunStore
from studio.server.scheduler import Devices
from studio.server.users import UserBook


def config(model_dir, data, steps=2, method="lora"):
    return StudioConfig().with_overrides([f"model.source={model_dir}", f"data.train={data}", f"train.max_steps={steps}",
                                          f"method={method}", "train.batch_size=4", "data.max_length=64", "lora.r=4",
                                          "lora.alpha=8"])


def write_policy(tmp_path, text: str) -> Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return Policy.load(path)


def test_policy_file_is_checked_at_start_up(tmp_path):
    with pytest.raises(StudioError, match="unknown key.*max_step"):
        write_policy(tmp_path, "max_step: 10\n")
    with pytest.raises(StudioError, match="locked.*trian"):
        write_policy(tmp_path, "locked:\n  trian.max_steps: 5\n")
    policy = write_policy(tmp_path, "max_steps: 50\nmethods: [lora]\nlocked:\n  train.max_steps: 30\n")
    assert policy.max_steps == 50 and policy.methods == ["lora"] and "up to 50 steps per run" in policy.lines()


def test_refusals_name_the_limit_and_the_locked_preset_applies(tiny_model_dir, chat_file, tmp_path):
    policy = write_policy(tmp_path, f"max_steps: 50\nmethods: [lora]\nmodels: ['{tiny_model_dir}']\nqueued_per_user: 2\n"
                                    "locked:\n  train.learning_rate: 0.0005\n")
    store = RunStore(tmp_path / "runs", launcher="inline", policy=policy, devices=Devices(gpus=[], cpu_runs=1))
    ann = store.for_user("ann")
    with pytest.raises(StudioError, match=r"60 steps is over the limit of 50.*policy file policy.yaml"):
        ann.submit(config(tiny_model_dir, chat_file, steps=60))
    with pytest.raises(StudioError, match="method 'full' is not offered here; pick one of: lora"):
        ann.submit(config(tiny_model_dir, chat_file, method="full"))
    with pytest.raises(StudioError, match="model 'smollm2' is not offered"):
        ann.submit(config("smollm2", chat_file))
    first = ann.submit(config(tiny_model_dir, chat_file, steps=40))
    ann.submit(config(tiny_model_dir, chat_file))
    with pytest.raises(StudioError, match="already have 2 run"):
        ann.submit(config(tiny_model_dir, chat_file))
    store.for_user("bob").submit(config(tiny_model_dir, chat_file))  # the limit is per person
    assert StudioConfig.load(store.folder(first).config_file).train.learning_rate == 0.0005
    for run in store.list():
        store.wait(run.id, 180)


def test_one_run_training_at_once_per_person(tiny_model_dir, chat_file, tmp_path):
    policy = Policy(running_per_user=1)  # a process per run: two models cannot load at once in one process
    store = RunStore(tmp_path / "runs", policy=policy, devices=Devices(gpus=[], cpu_runs=2))
    a1 = store.submit(config(tiny_model_dir, chat_file, steps=6), name="a1", owner="ann")
    a2 = store.submit(config(tiny_model_dir, chat_file, steps=2), name="a2", owner="ann")
    b1 = store.submit(config(tiny_model_dir, chat_file, steps=2), name="b1", owner="bob")
    for run in (a1, a2, b1):
        info = store.wait(run, 180)
        assert info.state == "finished", (info.message, store.events(run, ("error",)))
    span = {r: (store.events(r, ("start",))[0]["time"], store.events(r, ("end",))[0]["time"]) for r in (a1, a2, b1)}
    assert span[a2][0] >= span[a1][1]  # ann's second waited for her first, with a free slot
    assert span[b1][0] < span[a1][1]  # bob used that slot meanwhile


def test_a_run_over_its_minutes_is_stopped_and_keeps_its_model(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs", launcher="inline", policy=Policy(max_minutes=0.02), stop_grace=30)
    run = store.submit(config(tiny_model_dir, chat_file, steps=5000))
    info = store.wait(run, 180)
    assert info.state == "stopped" and 0 < info.step < 5000 and info.has_model
    warning = store.events(run, ("warning",))[-1]["message"]
    assert "limit of 0.02 minutes per run" in warning


def test_paths_cannot_leave_their_folder(tmp_path):
    store = RunStore(tmp_path / "runs")
    ann = store.for_user("ann")
    for bad in ("../x", "..", "a/b", ".hidden", ""):
        with pytest.raises(StudioError):
            ann.folder(bad)
    other = store.user_dir("bob") / "uploads" / "b.csv"
    other.parent.mkdir(parents=True)
    other.write_text("text,label\n")
    with pytest.raises(StudioError, match="no file named 'b.csv'"):
        ann.check_path(other)
    with pytest.raises(StudioError, match="no file named"):
        ann.check_path(ann.data_dir / ".." / "bob" / "uploads" / "b.csv")
    mine = ann.data_dir / "uploads" / "a.csv"
    assert ann.check_path(mine) == mine.resolve()
    assert store.user_dir("../../etc").parent == store.root / "_data" / "users"  # odd names are hashed
    from studio.ui.data_tab import safe_name

    assert safe_name("../../etc/passwd") == "passwd" and safe_name(".env") == "env" and safe_name("a b.csv") == "a b.csv"


def test_users_file_passwords_and_join_codes(tmp_path, monkeypatch):
    book = UserBook(tmp_path / "users.json")
    book.add("ana", "correct horse", admin=True)
    text = (tmp_path / "users.json").read_text()
    assert "correct horse" not in text and "scrypt$" in text
    assert book.check("ana", "correct horse") and not book.check("ana", "wrong") and book.is_admin("ana")
    with pytest.raises(StudioError, match="too short"):
        book.add("bo", "short")
    code, other = book.make_codes(2, hours=1)
    assert book.check("kim", code)  # the first sign-in ties the code to the name
    assert book.check("kim", code) and not book.check("lee", code)
    assert not book.check("kim", other)  # one name, one code
    assert book.check("lee", other.upper()) and not book.is_admin("lee")
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert not book.check("kim", code)  # expired


def test_users_cli(tmp_path):
    file = tmp_path / "u.json"
    run = [sys.executable, "-m", "studio", "users", "--file", str(file)]
    out = subprocess.run(run + ["add", "teacher", "--admin", "--password-stdin"], input="long-enough\n", text=True,
                         capture_output=True)
    assert out.returncode == 0, out.stderr
    codes = subprocess.run(run + ["codes", "--count", "3", "--hours", "2"], text=True, capture_output=True).stdout
    lines = [x for x in codes.splitlines() if x and not x.startswith("#")]
    assert len(lines) == 3 and UserBook(file).check("student1", lines[0])
    listing = subprocess.run(run + ["list"], text=True, capture_output=True).stdout
    assert "teacher\tpassword (admin)" in listing and "student1\tjoin code" in listing
    assert UserBook(file).holder("student1").id in listing


def test_who_is_asking_in_each_sign_in_mode(tmp_path):
    from types import SimpleNamespace

    from studio.ui.access import Access

    store = RunStore(tmp_path / "runs")
    single = Access.from_env({})
    assert single.mode == "single" and single.runs(store, None).owner is None  # one user sees every run
    book = UserBook(tmp_path / "u.json")
    book.add("ana", "long-enough", admin=True)
    book.add("bob", "long-enough")
    book.add("cy", "long-enough")
    users = Access.from_env({"STUDIO_USERS": str(tmp_path / "u.json"), "STUDIO_ADMINS": "bob"})
    assert users.identity(SimpleNamespace(username="ana")).admin
    assert users.identity(SimpleNamespace(username="bob")).admin and not users.identity(SimpleNamespace(username="cy")).admin
    assert users.runs(store, SimpleNamespace(username="cy")).owner == book.holder("cy").id  # the account id owns runs
    with pytest.raises(StudioError, match="sign in first"):
        users.runs(store, SimpleNamespace(username=None))
    hf = Access.from_env({"SPACE_ID": "me/studio", "OAUTH_CLIENT_ID": "x"})
    signed = SimpleNamespace(username=None, request=SimpleNamespace(scope={"session": {"oauth_info": {
        "userinfo": {"preferred_username": "hf-user"}, "expires_at": time.time() + 60}}}))
    assert hf.mode == "hf" and hf.identity(signed).name == "hf-user"
    expired = SimpleNamespace(username=None, request=SimpleNamespace(scope={"session": {"oauth_info": {
        "userinfo": {"preferred_username": "hf-user"}, "expires_at": time.time() - 1}}}))
    with pytest.raises(StudioError, match="Sign in with Hugging Face"):
        hf.runs(store, expired)
    with pytest.raises(StudioError, match="only an admin"):
        hf.all_runs(store, signed)
    assert {n for n, _ in users.signed_in()} == {"ana", "bob", "cy"}


def test_a_queued_run_knows_its_place_and_about_when_it_starts(tmp_path):
    from studio.core.runfolder import RunFolder

    store = RunStore(tmp_path / "runs", launcher="inline", devices=Devices(gpus=[], cpu_runs=1))

    def run(name, events, state, owner=""):
        folder = RunFolder(store.root / name)
        folder.path.mkdir(parents=True)
        StudioConfig().with_overrides([f"owner={owner}"]).save(folder.config_file)
        for e in events:
            folder.emit(e)
        folder.write_status(state=state, owner=owner, started=time.time())

    run("done", [{"type": "end", "runtime": 30.0}], "finished")
    run("training", [{"type": "log", "step": s, "max_steps": 10, "elapsed": float(s)} for s in (1, 3)], "running")
    run("first", [], "queued", owner="ann")
    run("second", [], "queued", owner="bob")
    store._running["training"] = {}
    store._pending += [(name, StudioConfig.load(store.root / name / "config.yaml"), False) for name in ("first", "second")]
    assert store.queue_position("first") == 1 and store.queue_position("second") == 2
    assert store.estimated_wait("first") == pytest.approx(7.0)  # 7 steps left at 1 s a step
    assert store.estimated_wait("second") == pytest.approx(37.0)  # then one typical run (30 s) ahead of it
    assert store.estimated_wait("done") is None
    reads = []
    real_list = store.list
    store.list = lambda *a, **k: reads.append(1) or real_list(*a, **k)
    for _ in range(20):  # twenty queued pages polling within a second read the run folders once
        assert store.estimated_wait("second") == pytest.approx(37.0)
    assert len(reads) == 0  # the basis read above is still fresh
    store._wait_cache = (store._wait_cache[0] - store.WAIT_BASIS_SECONDS - 1, store._wait_cache[1])
    store.estimated_wait("second")
    assert len(reads) == 1  # an old basis is read again


def test_watching_pages_share_one_incremental_read_and_one_chart(tmp_path):
    from studio.core.runfolder import RunFolder
    from studio.ui.caches import RunWatch

    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    watch = RunWatch()
    folder.emit({"type": "log", "step": 1, "loss": 2.0, "learning_rate": 1e-3, "elapsed": 1.0})
    first = watch.events(folder)
    chart = watch.figure(folder, first)
    assert len(first) == 1 and watch.figure(folder, watch.events(folder)) is chart  # nothing new: the same chart
    folder.emit({"type": "log", "step": 2, "loss": 1.0, "learning_rate": 1e-3, "elapsed": 2.0})
    events = watch.events(folder)
    assert [e["step"] for e in events] == [1, 2] and watch.figure(folder, events) is not chart
    assert '"y":[2.0,1.0]' in watch.figure(folder, events).plot.replace(" ", "")
    folder.events_file.write_text(json.dumps({"type": "log", "step": 9, "loss": 0.5}) + "\n")  # replaced: read anew
    assert [e["step"] for e in watch.events(folder)] == [9]
