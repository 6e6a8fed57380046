"""Downloads come from the run folder through the studio's own route, wherever the runs folder is: also outside
the working folder and the temp folder (the Docker image keeps runs in /data/runs and works in /app), where
Gradio refuses to copy a file into its cache."""

import tempfile
import zipfile
from io import BytesIO

import httpx
import pytest

gradio_client = pytest.importorskip("gradio_client")



def test_export_downloads_with_runs_outside_the_working_and_temp_folders(tiny_model_dir, tmp_path, monkeypatch):
    from test_export import _train
    from test_isolation import serve

    from studio.server.runs import RunStore
    from studio.ui.access import Access

    runs = tmp_path / "data" / "runs"
    runs.mkdir(parents=True)
    _train(tiny_model_dir, runs)  # a finished LoRA run in runs/run
    (runs / "chat.jsonl").unlink()
    work, temp = tmp_path / "app", tmp_path / "other-tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert not str(runs).startswith((str(work), tempfile.gettempdir()))
    demo, url = serve(runs, Access("single"), RunStore(runs, launcher="inline"))
    try:
        message, link, load_with, _ = gradio_client.Client(url, verbose=False).predict("run", False, api_name="/export")
        assert "Exported the LoRA adapter" in message, message
        href = link.split('href="', 1)[1].split('"', 1)[0]
        assert href == "studio/download/run/export.zip"
        answer = httpx.get(url + href)
        assert answer.status_code == 200, answer.text
        names = zipfile.ZipFile(BytesIO(answer.content)).namelist()
        assert "export/adapter_config.json" in names and "export/README.md" in names  # the folder the snippet loads
        assert "from_pretrained('export')" in load_with
        assert "attachment" in answer.headers["content-disposition"]
        for other in ("run/config.yaml", "run/model/adapter_config.json", "nope/export.zip"):
            assert httpx.get(f"{url}studio/download/{other}").status_code == 404  # only what the page hands out
    finally:
        demo.close()
