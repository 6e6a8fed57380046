"""Experiment trackers (train.report_to): TensorBoard and MLflow records read back equal the run's own events;
a tracker that cannot start or fails is a warning, and the run still finishes."""

import os

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.engine.train import run_training

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")


def make_config(model_dir, data, out, *extra):
    base = [f"model.source={model_dir}", f"data.train={data}", f"output_dir={out}", "train.max_steps=4",
            "train.batch_size=4", "train.learning_rate=1e-3", "train.logging_steps=1", "train.eval_steps=2",
            "train.save_steps=4", "data.max_length=64", "lora.r=4", "lora.alpha=8"]
    return StudioConfig().with_overrides(base + list(extra))


def test_tensorboard_and_mlflow_hold_the_runs_figures(tiny_model_dir, chat_file, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "runs" / "tracked"
    status = run_training(make_config(tiny_model_dir, chat_file, out, "train.report_to=[tensorboard,mlflow]"))
    assert status["state"] == "finished"
    events = RunFolder(out).read_events()
    assert not [e for e in events if e["type"] == "warning" and "tracker" in e["message"]]
    where = [e for e in events if e["type"] == "trackers"][0]["trackers"]
    assert str(out / "tensorboard") in where["tensorboard"] and "mlflow.db" in where["mlflow"]
    losses = [(e["step"], e["loss"]) for e in events if e["type"] == "log"]
    evals = [(e["step"], e["eval_loss"]) for e in events if e["type"] == "eval"]
    assert len(losses) == 4 and len(evals) == 2

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    tb_loss = [(s.step, s.value) for s in acc.Scalars("train/loss")]
    tb_eval = [(s.step, s.value) for s in acc.Scalars("eval/loss")]
    assert [s for s, _ in tb_loss] == [s for s, _ in losses]
    assert all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(tb_loss, losses))
    assert all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(tb_eval, evals)) and len(tb_eval) == 2
    texts = acc.Tags()["tensors"]
    assert "studio/outcome/text_summary" in texts and "studio/config/text_summary" in texts
    outcome = acc.Tensors("studio/outcome/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert outcome == "finished"

    import mlflow

    assert "MLFLOW_TRACKING_URI" not in os.environ  # the next run in this process picks its own store
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    assert client.get_experiment_by_name("studio").artifact_location.startswith((tmp_path / "runs").as_uri())
    run = client.search_runs([client.get_experiment_by_name("studio").experiment_id])[0]
    assert run.info.run_name == "tracked" and run.info.status == "FINISHED"
    assert run.data.tags["outcome"] == "finished"
    assert run.data.params["studio.train.learning_rate"] == "0.001"
    ml_loss = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")]
    ml_eval = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "eval_loss")]
    assert sorted(s for s, _ in ml_loss) == [s for s, _ in losses]
    assert all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(sorted(ml_loss), losses))
    assert all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(sorted(ml_eval), evals)) and len(ml_eval) == 2


def test_a_tracker_that_fails_is_a_warning_not_a_failed_run(tiny_model_dir, chat_file, tmp_path, monkeypatch):
    from transformers.integrations import TensorBoardCallback

    def broken(self, *a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(TensorBoardCallback, "on_log", broken)  # fails while the run trains
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")  # cannot start at all
    out = tmp_path / "runs" / "broken"
    status = run_training(make_config(tiny_model_dir, chat_file, out, "train.report_to=[tensorboard,mlflow,wandb]"))
    assert status["state"] == "finished"
    events = RunFolder(out).read_events()
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("tracker mlflow did not start" in w for w in warnings)
    assert any("tracker tensorboard stopped recording" in w and "disk full" in w for w in warnings)
    assert any("tracker wandb" in w for w in warnings)  # not installed or not logged in here
    assert events[-1]["type"] == "end" and events[-1]["state"] == "finished"


def test_report_to_takes_only_known_trackers():
    cfg = StudioConfig().with_overrides(["train.report_to=tensorboard,mlflow"])
    assert cfg.train.report_to == ["tensorboard", "mlflow"]
    cfg = StudioConfig().with_overrides(["train.report_to=[tensorbord]", "data.train=x"])
    with pytest.raises(StudioError, match="tensorbord"):
        cfg.validate(cuda_available=False)


def test_the_policy_allows_trackers(tmp_path):
    from studio.server.policy import Policy

    f = tmp_path / "policy.yaml"
    f.write_text("trackers: [tensorboard]\ntrials_per_sweep: 3\n")
    policy = Policy.load(f)
    policy.check_run(StudioConfig().with_overrides(["train.report_to=[tensorboard]"]), queued=0, disk_bytes=0)
    with pytest.raises(StudioError, match="tracker 'mlflow' is not offered"):
        policy.check_run(StudioConfig().with_overrides(["train.report_to=[mlflow]"]), queued=0, disk_bytes=0)
    f.write_text("trackers: [tensorbored]\n")
    with pytest.raises(StudioError, match="tensorbored"):
        Policy.load(f)
