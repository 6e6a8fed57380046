"""The upload limit: 100 MB on a shared studio unless the operator's ``upload_mb`` says otherwise, refused by Gradio
before the file is stored and by the upload handler, and stated on the Data tab."""

import socket

import pytest

from studio.core.errors import StudioError
from studio.server.policy import DEFAULT_UPLOAD_MB, Policy
from studio.server.runs import RunStore
from studio.server.users import UserBook


def sized(path, size: int):
    with open(path, "wb") as fh:
        fh.truncate(size)  # sparse: the size without the disk
    return path


def test_a_shared_studio_has_a_default_upload_limit(tmp_path):
    assert DEFAULT_UPLOAD_MB == 100
    assert Policy().upload_limit_mb(shared=True) == 100 and Policy().upload_limit_mb(shared=False) == 0
    assert Policy(upload_mb=500).upload_limit_mb(shared=True) == 500  # the operator raises or lowers it
    off = tmp_path / "policy.yaml"
    off.write_text("upload_mb: 0\n")
    assert Policy.load(off).upload_limit_mb(shared=True) == 0 and Policy.load(off).upload_bytes(True) is None
    assert "uploads up to 100 MB" in Policy().lines(shared=True) and not Policy().lines()
    store = RunStore(tmp_path / "runs")
    big = sized(tmp_path / "big.csv", 101_000_000)
    with pytest.raises(StudioError, match=r"big.csv is 101.0 MB, over the 100 MB upload limit"):
        store.for_user("ann").check_upload(big)
    store.for_user(None).check_upload(big)  # single-user: no limit unless the operator sets one
    store.for_user("ann").check_upload(sized(tmp_path / "ok.csv", 99_000_000))


def test_the_data_tab_states_the_limit(tmp_path):
    from studio.ui.access import Access
    from studio.ui.app import build_app

    store = RunStore(tmp_path / "runs")
    shared = build_app(tmp_path / "runs", access=Access("users", policy=Policy()), store=store)
    assert shared.studio.parts["data"]["upload"].label.endswith("(up to 100 MB)")
    single = build_app(tmp_path / "runs", access=Access("single"), store=store)
    assert "MB" not in single.studio.parts["data"]["upload"].label


def test_gradio_refuses_an_upload_over_the_limit(tmp_path, monkeypatch):
    import httpx

    from studio.ui import app

    book = UserBook(tmp_path / "users.json")
    book.add("ann", "ann-password")
    policy = tmp_path / "policy.yaml"
    policy.write_text("upload_mb: 0.01\n")  # 10 kB
    for name in ("STUDIO_CACHE", "HF_HOME", "STUDIO_DATA", "STUDIO_RUNS", "SPACE_ID", "OAUTH_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)  # whatever the launch exports is undone after the test
    monkeypatch.setenv("STUDIO_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("STUDIO_POLICY", str(policy))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, url, _ = app.launch(host="127.0.0.1", port=port, runs_dir=tmp_path / "runs", prevent_thread_lock=True,
                                quiet=True)
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=30) as client:
            assert client.post("/login", data={"username": "ann", "password": "ann-password"}).status_code == 200
            small = client.post("/gradio_api/upload", files={"files": ("small.csv", b"x" * 5_000)})
            big = client.post("/gradio_api/upload", files={"files": ("big.csv", b"x" * 20_000)})
        assert small.status_code == 200, small.text
        assert big.status_code == 413 and "maximum allowed size of 10000 bytes" in big.text
    finally:
        server.get_blocks().close()
