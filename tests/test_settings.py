"""Where the studio listens and keeps its files (studio/server/settings.py), and that the served app honours it."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from studio.server import settings
from studio.core.errors import StudioError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_without_any_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = settings.resolve(env={})
    assert (s.host, s.port, s.root_path) == ("127.0.0.1", 7860, "")
    assert s.runs_dir == tmp_path / "runs"
    assert s.cache_dir is None and s.hf_home is None and s.data_dir is None and not s.on_space


def test_gradio_variables_are_honoured_and_the_studio_ones_win():
    gradio = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080", "GRADIO_ROOT_PATH": "studio/"}
    s = settings.resolve(env=gradio)
    assert (s.host, s.port, s.root_path) == ("0.0.0.0", 8080, "/studio")
    s = settings.resolve(env={**gradio, "STUDIO_HOST": "10.1.2.3", "STUDIO_PORT": "9000"})
    assert (s.host, s.port) == ("10.1.2.3", 9000)
    s = settings.resolve("127.0.0.1", 7000, env={**gradio, "STUDIO_HOST": "10.1.2.3", "STUDIO_PORT": "9000"})
    assert (s.host, s.port) == ("127.0.0.1", 7000)
    assert settings.resolve(env={"GRADIO_ROOT_PATH": "https://example.org/app/"}).root_path == "https://example.org/app"


def test_a_space_binds_every_address_and_says_when_it_has_no_gpu():
    s = settings.resolve(env={"SPACE_ID": "someone/studio"})
    assert s.on_space and s.host == "0.0.0.0"
    assert "CPU hardware" in settings.hardware_notice(s, gpu_name=None)
    assert settings.hardware_notice(s, gpu_name="NVIDIA L4") == ""
    assert settings.hardware_notice(settings.resolve(env={}), gpu_name=None) == ""  # not a Space: no notice


def test_bad_port_names_the_variable():
    with pytest.raises(StudioError, match="GRADIO_SERVER_PORT.*1 to 65535"):
        settings.resolve(env={"GRADIO_SERVER_PORT": "web"})
    with pytest.raises(StudioError, match="STUDIO_PORT"):
        settings.resolve(env={"STUDIO_PORT": "70000"})


def test_one_data_folder_holds_runs_and_caches(tmp_path):
    data = tmp_path / "data"
    s = settings.resolve(env={"STUDIO_DATA": str(data)})
    assert (s.runs_dir, s.cache_dir, s.hf_home) == (data / "runs", data / "cache", data / "hf")
    env = {"STUDIO_DATA": str(data), "HF_HOME": str(tmp_path / "hub"), "STUDIO_RUNS": str(tmp_path / "elsewhere")}
    s = settings.apply_env(env=env)
    assert s.runs_dir == tmp_path / "elsewhere" and s.hf_home == tmp_path / "hub"
    assert env["HF_HOME"] == str(tmp_path / "hub") and env["STUDIO_CACHE"] == str(data / "cache")
    assert s.runs_dir.is_dir() and data.is_dir()


def test_an_unwritable_data_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StudioError, match="cannot create the folder .*STUDIO_DATA"):
        settings.apply_env(env={"STUDIO_DATA": str(blocker / "data")})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_app_serves_where_the_gradio_variables_say(tmp_path):
    """``python app.py`` as a Space starts it: Gradio's variables, a root path, one data folder, the CPU notice."""
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SPACE_ID": "someone/studio", "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_SERVER_PORT": str(port), "GRADIO_ROOT_PATH": "/studio", "STUDIO_DATA": str(tmp_path / "data"),
           "PYTHONPATH": str(REPO)}
    for name in ("STUDIO_HOST", "STUDIO_PORT", "STUDIO_RUNS", "HF_HOME", "CUDA_VISIBLE_DEVICES"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        page, deadline = "", time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(1)
        assert page, f"no page on port {port}: {proc.stdout.read() if proc.poll() is not None else 'still starting'}"
        assert "This Space runs on CPU hardware" in page
        assert f"127.0.0.1:{port}/studio" in page  # the page's root URL carries the proxy's path
        assert (tmp_path / "data" / "runs").is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
