import json

import pytest
import torch

from imitlab.cli import main
from imitlab.rl import train_rl
from imitlab.training.checkpoint import TRAIN_STATE_FILE, CheckpointError
from imitlab.training.run_dir import (
    METRICS_FILE,
    append_metrics,
    load_train_state,
    read_metrics,
    save_train_state,
    truncate_metrics,
)
from imitlab.training.train import train_policy

TINY = {"steps": 4, "batch_size": 8, "save_every": 2, "log_every": 1, "warmup_steps": 1}


class CreatesAFile:
    """A pickled object whose loading would create ``path`` (what a crafted train_state.pt could do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def plant_crafted_state(run_dir, marker):
    torch.save({"step": 1, "model": CreatesAFile(marker)}, run_dir / TRAIN_STATE_FILE)


def test_imitlab_train_resume_refuses_a_crafted_train_state_and_runs_none_of_it(small_dataset_dir, tmp_path, capsys):
    run = tmp_path / "run"
    train_policy("bc", small_dataset_dir, run, train_overrides=TINY, progress=False)
    marker = tmp_path / "created-by-the-pickle"
    plant_crafted_state(run, marker)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--policy", "bc", "--data", str(small_dataset_dir), "--out", str(run), "--resume"])
    assert exit_info.value.code == 2
    assert not marker.exists()
    assert f"CheckpointError: {run / TRAIN_STATE_FILE} was refused" in capsys.readouterr().err


def test_rl_resume_refuses_a_crafted_train_state_and_runs_none_of_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    config = {"policy": "actor-critic", "policy_config": {}, "algo": "ppo", "env": "pendulum", "seed": 0}
    (run / "config.json").write_text(json.dumps({**config, "total_steps": 10, "rl_config": {}}))
    marker = tmp_path / "created-by-the-pickle"
    plant_crafted_state(run, marker)
    with pytest.raises(CheckpointError, match="was refused"):
        train_rl("ppo", "pendulum", 10, run, resume=True, progress=False)
    assert not marker.exists()


def test_train_state_round_trips_tensors_numbers_and_json_text(tmp_path):
    state = {"step": 3, "weights": {"w": torch.arange(4.0)}, "rng": json.dumps({"state": 2**100}), "ema": None}
    save_train_state(tmp_path, state)
    loaded = load_train_state(tmp_path, ("step", "weights", "rng"))
    torch.testing.assert_close(loaded["weights"]["w"], state["weights"]["w"])
    assert (loaded["step"], json.loads(loaded["rng"]), loaded["ema"]) == (3, {"state": 2**100}, None)


def test_a_train_state_without_a_needed_key_names_the_file_and_the_key(tmp_path):
    save_train_state(tmp_path, {"step": 3})
    with pytest.raises(CheckpointError, match=rf"{TRAIN_STATE_FILE} has no 'model' \(found: step\)"):
        load_train_state(tmp_path, ("step", "model"))


def test_truncating_metrics_keeps_records_up_to_the_step_and_drops_a_torn_last_line(tmp_path):
    for step in (1, 2, 3):
        append_metrics(tmp_path, {"step": step, "loss": 1.0 / step})
    with open(tmp_path / METRICS_FILE, "a") as f:
        f.write('{"step": 4, "lo')  # a write a kill cut short
    truncate_metrics(tmp_path, 2)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]


def test_a_damaged_metrics_line_names_the_file_and_line(tmp_path):
    (tmp_path / METRICS_FILE).write_text('{"step": 1}\n{"step": 2\n{"step": 3}\n')
    with pytest.raises(CheckpointError, match=rf"{METRICS_FILE} line 2 is not valid JSON"):
        read_metrics(tmp_path)
    with pytest.raises(CheckpointError, match="line 2 is not valid JSON"):
        truncate_metrics(tmp_path, 3)
    (tmp_path / METRICS_FILE).write_text('{"step": "1"}\n')
    with pytest.raises(CheckpointError, match="line 1 must be a JSON object with an integer 'step'"):
        read_metrics(tmp_path)


@pytest.fixture
def finished_run(small_dataset_dir, tmp_path):
    run = tmp_path / "run"
    train_policy("bc", small_dataset_dir, run, train_overrides=TINY, progress=False)
    return run


def test_imitlab_eval_of_a_truncated_model_names_the_file_and_exits_2(finished_run, capsys):
    weights = finished_run / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--checkpoint", str(finished_run), "--episodes", "1"])
    assert exit_info.value.code == 2
    assert f"CheckpointError: {weights} is damaged or truncated" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("config.json", lambda text: text[: len(text) // 2], "config.json is not valid JSON"),
        ("config.json", lambda text: text.replace('"train_config"', '"renamed"'), "has no key 'train_config'"),
        ("config.json", lambda text: text.replace('"steps": 4', '"steps": "4"'), "config.json does not fit"),
        ("config.json", lambda text: text.replace('"env": "pendulum"', '"env": [1]'), "key 'env' must be an env name"),
        ("metrics.jsonl", lambda text: text.replace("}\n{", "}\n{{", 1), "metrics.jsonl line 2 is not valid JSON"),
    ],
)
def test_imitlab_train_resume_of_a_damaged_run_file_names_it_and_exits_2(
    small_dataset_dir, finished_run, capsys, name, damage, message
):
    path = finished_run / name
    path.write_text(damage(path.read_text()))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--policy", "bc", "--data", str(small_dataset_dir), "--out", str(finished_run), "--resume"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
