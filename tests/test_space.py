"""The Docker image's contract and the Hugging Face Space assembled from the repository (no Docker needed;
scripts/docker-test.sh builds and runs the image itself)."""

import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _header(readme: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", readme, re.S)
    assert match, "no YAML header"
    return yaml.safe_load(match.group(1))


def test_the_dockerfile_keeps_the_contract():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}", text, re.M)
    assert re.search(r"^USER 1000$", text, re.M) and "--uid 1000" in text  # what Spaces require
    assert re.search(r"^EXPOSE 7860$", text, re.M) and "GRADIO_SERVER_PORT=7860" in text
    assert "GRADIO_SERVER_NAME=0.0.0.0" in text and "STUDIO_DATA=/data" in text and "VOLUME /data" in text
    assert "python -m studio prepare" in text and re.search(r"^HEALTHCHECK ", text, re.M)
    assert not re.search(r"^(ARG|ENV)\s+\S*(TOKEN|SECRET|PASSWORD)", text, re.M | re.I)  # no secrets in layers
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert ignored[0] == "*"  # everything out (.git, .venv, runs, build), then only what the image needs
    for needed in ("studio", "assets", "examples", "app.py", "pyproject.toml", "README.md"):
        assert f"!{needed}" in ignored, needed


def test_make_space_assembles_a_docker_space(tmp_path):
    out = tmp_path / "space"
    done = subprocess.run(["bash", str(REPO / "scripts" / "make-space.sh"), str(out)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    meta = _header((out / "README.md").read_text())
    assert meta["sdk"] == "docker" and meta["app_port"] == 7860 and meta["hf_oauth"] is True
    assert meta["suggested_hardware"] in ("t4-small", "t4-medium", "l4x1", "a10g-small", "cpu-upgrade")
    assert (out / "app.py").exists() and (out / "studio" / "server" / "settings.py").exists() and (out / "assets").is_dir()
    assert 'ARG TORCH_INDEX=""' in (out / "Dockerfile").read_text()  # the default index, as pip is set up
    assert not list(out.rglob("__pycache__")) and not (out / ".git").exists()
    # the repository's own README stays for GitHub readers: no Space header there
    assert not (REPO / "README.md").read_text().startswith("---")
