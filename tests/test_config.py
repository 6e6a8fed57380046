from pathlib import Path

import pytest

from studio.core.config import StudioConfig, knobs, TrainConfig
from studio.core.errors import StudioError

REPO = Path(__file__).resolve().parents[1]


def test_yaml_round_trip(tmp_path):
    cfg = StudioConfig()
    cfg.data.train = "x.jsonl"
    cfg.train.learning_rate = 1e-3
    cfg.lora.target_modules = ["q_proj", "v_proj"]
    cfg.save(tmp_path / "c.yaml")
    back = StudioConfig.load(tmp_path / "c.yaml")
    assert back.to_dict() == cfg.to_dict()


def test_overrides_with_dotted_keys():
    cfg = StudioConfig().with_overrides(["train.max_steps=7", "train.learning_rate=3e-4", "data.train=a.jsonl",
                                         "output_dir=runs/x", "lora.target_modules=q_proj,v_proj", "method=full"])
    assert cfg.train.max_steps == 7 and isinstance(cfg.train.max_steps, int)
    assert cfg.train.learning_rate == pytest.approx(3e-4)
    assert cfg.data.train == "a.jsonl" and cfg.output_dir == "runs/x" and cfg.method == "full"
    assert cfg.lora.target_modules == ["q_proj", "v_proj"]


@pytest.mark.parametrize("assignment, words", [
    ("train.max_stepz=3", ["unknown config key 'train.max_stepz'", "max_steps"]),
    ("nonsense=1", ["unknown config key 'nonsense'"]),
    ("train.max_steps=abc", ["train.max_steps", "whole number"]),
    ("train", ["key=value"]),
])
def test_bad_overrides_say_what_and_where(assignment, words):
    with pytest.raises(StudioError) as err:
        StudioConfig().with_overrides([assignment])
    for w in words:
        assert w in str(err.value)


def test_unknown_yaml_key_and_bad_yaml(tmp_path):
    (tmp_path / "a.yaml").write_text("train:\n  epochz: 2\n")
    with pytest.raises(StudioError, match="did you mean 'train.epochs'"):
        StudioConfig.load(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("train:\n  epochs: [1\n")
    with pytest.raises(StudioError, match="not valid YAML at line"):
        StudioConfig.load(tmp_path / "b.yaml")
    with pytest.raises(StudioError, match="config file not found"):
        StudioConfig.load(tmp_path / "missing.yaml")


def test_validation(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hi"}\n')
    cfg = StudioConfig().with_overrides([f"data.train={data}"])
    assert cfg.validate(cuda_available=False) == []
    qlora = cfg.with_overrides(["method=qlora"])
    (warning,) = qlora.validate(cuda_available=False)
    assert "qlora without a CUDA GPU" in warning and "lora" in warning
    assert qlora.validate(cuda_available=True) == []
    with pytest.raises(StudioError, match="is not one of"):
        cfg.with_overrides(["method=dpo"]).validate(cuda_available=False)
    with pytest.raises(StudioError, match="below the minimum"):
        cfg.with_overrides(["train.learning_rate=0"]).validate(cuda_available=False)
    with pytest.raises(StudioError, match="needs a CUDA GPU"):  # bf16 on a CPU: see test_precision.py
        cfg.with_overrides(["train.precision=fp16"]).validate(cuda_available=False)
    with pytest.raises(StudioError, match="file not found"):
        cfg.with_overrides(["data.eval=nope.jsonl"]).validate(cuda_available=False)
    with pytest.raises(StudioError, match="data.train is empty"):
        StudioConfig().validate(cuda_available=False)


def test_every_shipped_example_config_is_valid():
    examples = sorted((REPO / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        cfg = StudioConfig.load(path)
        cfg.validate(cuda_available=False)
        assert Path(cfg.resolve_path(cfg.data.train)).is_file()


def test_knobs_carry_labels_help_and_bounds():
    by_name = {k["name"]: k for k in knobs(TrainConfig)}
    lr = by_name["learning_rate"]
    assert lr["label"] and lr["help"] and lr["min"] > 0 and lr["max"] <= 1
    assert by_name["scheduler"]["choices"]
    assert all(k["help"] for k in by_name.values())
