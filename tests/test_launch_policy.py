"""Where a run from the page trains is the operator's choice: inline (inside the web process) never, other launchers
only as the policy's ``backends`` allows, the cluster address always the operator's (a request's address is never
contacted, and a refusal reads the same whether it pointed at an open port or a closed one). Nothing trains here."""

import socket
import threading

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.server.policy import Policy
from studio.server.runs import RunStore
from studio.server.scheduler import Devices


def config(model_dir, data, *launch):
    return StudioConfig().with_overrides([f"model.source={model_dir}", f"data.train={data}", "train.max_steps=2",
                                          *launch])


def busy_store(tmp_path, policy=None, ray_address=""):
    """A store whose one device is taken: whatever is submitted stays queued (nothing trains in this file)."""
    devices = Devices(gpus=[], cpu_runs=1)
    devices.reserve("someone-else", [])
    return RunStore(tmp_path / "runs", devices=devices, policy=policy, ray_address=ray_address)



class Listener:
    """An open port on 127.0.0.1 that counts the connections made to it (and closes each at once)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: the test is over
                return
            self.connections += 1
            conn.close()

    def contacted(self) -> bool:
        return self.connections > 0

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def listener():
    srv = Listener()
    yield srv
    srv.close()


def test_the_policy_file_lists_backends_and_never_inline(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("backends: [local, inline]\n")
    with pytest.raises(StudioError, match="backends may list local, ray, not inline.*never offered"):
        Policy.load(path)
    path.write_text("backends: [local, ray]\n")
    policy = Policy.load(path)
    assert policy.allowed_backends(shared=True) == ["local", "ray"] and "runs train with: local, ray" in policy.lines()
    assert Policy().allowed_backends(shared=True) == ["local"]  # a shared studio: this machine only, by default
    assert Policy().allowed_backends(shared=False) == ["local", "ray"]  # single-user: the operator's cluster too


def test_inline_and_unlisted_backends_are_refused_to_everyone(tiny_model_dir, chat_file, tmp_path):
    store = busy_store(tmp_path)
    for runs in (store.for_user(None), store.for_user("ann")):  # single-user and shared
        with pytest.raises(StudioError, match="inline trains inside the web server's own process"):
            runs.submit(config(tiny_model_dir, chat_file, "launch.backend=inline"))
        with pytest.raises(StudioError, match="trains on one machine"):
            runs.submit(config(tiny_model_dir, chat_file, "launch.nodes=2", "launch.address=10.0.0.1:29500"))
    with pytest.raises(StudioError, match=r"runs here train with local, not ray; set Where it trains to local \(the operator"):
        store.for_user("ann").submit(config(tiny_model_dir, chat_file, "launch.backend=ray"))
    with pytest.raises(StudioError, match="no Ray cluster is set up for this studio"):  # single-user, no address set
        store.for_user(None).submit(config(tiny_model_dir, chat_file, "launch.backend=ray", "launch.address=x:1"))
    assert not [p for p in store.root.iterdir() if p.name != "_data"]  # nothing was queued


def test_a_request_never_chooses_the_address(tiny_model_dir, chat_file, tmp_path, listener):
    from test_isolation import free_port

    pytest.importorskip("ray.job_submission")
    closed = f"http://127.0.0.1:{free_port()}"
    operator = f"http://127.0.0.1:{free_port()}"  # the operator's cluster, down right now
    store = busy_store(tmp_path, Policy(backends=["local", "ray"]), ray_address=operator)
    ann = store.for_user("ann")
    said = []
    for address in (listener.address, closed, ""):
        with pytest.raises(StudioError) as err:
            ann.submit(config(tiny_model_dir, chat_file, "launch.backend=ray", f"launch.address={address}"))
        said.append(str(err.value))
    assert said[0] == said[1] == said[2]  # an open port, a closed one or none: the same words
    assert "could not reach the Ray cluster" in said[0] and "127.0.0.1" not in said[0]  # nor the operator's address
    assert not listener.contacted()  # the request's address was never connected to
    # a local run: the address a request sent is dropped (torchrun's rendezvous stays on this machine)
    run = ann.submit(config(tiny_model_dir, chat_file, f"launch.address={listener.address[7:]}"))
    assert StudioConfig.load(store.folder(run).config_file).launch.address == ""
    store.stop(run)


def test_resume_keeps_to_the_same_rules(tiny_model_dir, chat_file, tmp_path, listener):
    store = busy_store(tmp_path, Policy(backends=["local", "ray"]))
    ann = store.for_user("ann")
    # runs made outside the page (the command line writes the same folders): inline, and a cluster of its own
    def made_elsewhere(*launch):
        run = store.submit(config(tiny_model_dir, chat_file), owner="ann")
        store.stop(run)
        file = store.folder(run).config_file
        StudioConfig.load(file).with_overrides(list(launch)).save(file)
        return run

    inline = made_elsewhere("launch.backend=inline")
    ray = made_elsewhere("launch.backend=ray", f"launch.address={listener.address}")
    local = made_elsewhere("launch.address=10.0.0.9:29500")
    with pytest.raises(StudioError, match="inline trains inside the web server's own process"):
        ann.resume(inline)
    with pytest.raises(StudioError, match="no Ray cluster is set up"):
        ann.resume(ray)
    assert store.info(inline).state == store.info(ray).state == "stopped"
    ann.resume(local)
    assert store.info(local).state == "queued"
    assert StudioConfig.load(store.folder(local).config_file).launch.address == ""  # what the launcher will read
    store.stop(local)
    assert not listener.contacted()


def test_the_train_tab_offers_only_the_allowed_backends(tmp_path):
    from studio.ui.access import Access
    from studio.ui.app import build_app
    from studio.ui.train_tab import KEYS

    assert "launch.address" not in KEYS and "launch.nodes" not in KEYS  # not inputs of /start_training
    store = RunStore(tmp_path / "runs", ray_address="http://10.1.2.3:8265")
    demo = build_app(tmp_path / "runs", access=Access("single"), store=store)
    backend = demo.studio.parts["train"]["widgets"]["launch.backend"]
    assert [c[1] for c in backend.choices] == ["local", "ray"]
    shared = build_app(tmp_path / "runs", access=Access("users", policy=Policy()), store=store)
    assert [c[1] for c in shared.studio.parts["train"]["widgets"]["launch.backend"].choices] == ["local"]
