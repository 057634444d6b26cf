import json

import pytest
import torch

from conftest import random_episodes
from imitlab.data.sampler import ChunkSampler
from imitlab.data.writer import write_dataset
from imitlab.training.checkpoint import CheckpointError, load_policy
from imitlab.training.train import lr_factor, train_policy

TRAIN = {"steps": 40, "batch_size": 16, "save_every": 10, "log_every": 5, "warmup_steps": 5}


def weights(policy):
    return {k: v.clone() for k, v in policy.state_dict().items()}


def test_resumed_training_matches_an_uninterrupted_run(small_dataset_dir, tmp_path, monkeypatch):
    full = weights(
        train_policy(
            "chunked-bc",
            small_dataset_dir,
            tmp_path / "full",
            {"horizon": 4},
            {**TRAIN, "ema_decay": 0.9},
            progress=False,
        )
    )

    original_sample = ChunkSampler.sample
    calls = {"n": 0}

    def crash_after_25(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 25:
            raise KeyboardInterrupt
        return original_sample(self, *args, **kwargs)

    monkeypatch.setattr(ChunkSampler, "sample", crash_after_25)
    with pytest.raises(KeyboardInterrupt):
        train_policy(
            "chunked-bc",
            small_dataset_dir,
            tmp_path / "cut",
            {"horizon": 4},
            {**TRAIN, "ema_decay": 0.9},
            progress=False,
        )
    monkeypatch.setattr(ChunkSampler, "sample", original_sample)
    resumed = weights(train_policy("chunked-bc", small_dataset_dir, tmp_path / "cut", resume=True, progress=False))

    assert full.keys() == resumed.keys()
    for key in full:
        torch.testing.assert_close(resumed[key], full[key], rtol=0, atol=0, msg=key)
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 40


def test_checkpoint_alone_reproduces_the_trained_policy(small_dataset_dir, tmp_path):
    policy = train_policy("bc", small_dataset_dir, tmp_path / "run", train_overrides=TRAIN, progress=False)
    loaded = load_policy(tmp_path / "run")
    obs = torch.randn(5, 1, 3)
    torch.testing.assert_close(loaded.predict_chunk(obs), policy.predict_chunk(obs))


def test_training_fits_a_learnable_mapping(tmp_path):
    episodes = random_episodes()
    for episode in episodes:
        episode.action[:] = 2 * episode.observation[:, :2] - episode.observation[:, 2:]
    write_dataset(
        tmp_path / "data",
        episodes,
        fps=10,
        task="linear",
        obs_names=["a", "b", "c"],
        action_names=["u", "v"],
        robot_type="pendulum",
    )
    train_policy("bc", tmp_path / "data", tmp_path / "run", train_overrides={**TRAIN, "steps": 300}, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.05 * losses[0]


def test_lr_schedule_warms_up_then_decays_to_zero():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(100, 10, 100) == pytest.approx(0.0)


def test_loading_a_directory_without_a_run_names_the_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_policy(tmp_path)


def test_unknown_policy_field_is_named(small_dataset_dir, tmp_path):
    with pytest.raises(ValueError, match="no config field hidden_size"):
        train_policy("bc", small_dataset_dir, tmp_path / "run", {"hidden_size": 3}, TRAIN, progress=False)


def test_a_run_stopped_while_writing_its_final_checkpoint_reruns_to_the_same_weights(
    small_dataset_dir, tmp_path, monkeypatch
):
    from imitlab.training import train as train_module

    full = weights(train_policy("bc", small_dataset_dir, tmp_path / "full", train_overrides=TRAIN, progress=False))
    save = train_module.save_policy

    def stop_in_the_final_checkpoint(run_dir, policy, meta):
        if meta["step"] == TRAIN["steps"]:
            raise KeyboardInterrupt
        save(run_dir, policy, meta)

    monkeypatch.setattr(train_module, "save_policy", stop_in_the_final_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train_policy("bc", small_dataset_dir, tmp_path / "cut", train_overrides=TRAIN, progress=False)
    monkeypatch.setattr(train_module, "save_policy", save)
    train_policy("bc", small_dataset_dir, tmp_path / "cut", resume=True, progress=False)
    loaded = load_policy(tmp_path / "cut")  # the weights on disk are the final ones, not the previous checkpoint's
    for key, value in full.items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0, msg=key)


def test_train_refuses_to_write_into_a_directory_that_is_not_a_run(small_dataset_dir, tmp_path, capsys):
    from imitlab.cli import main

    mine = tmp_path / "my-files"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    for out in (mine, small_dataset_dir, small_dataset_dir.parent):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "--policy", "bc", "--data", str(small_dataset_dir), "--out", str(out), "--steps", "1"])
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and len(err.splitlines()) == 1, err
        assert "refusing to write into it" in err or "is the dataset or holds it" in err
    assert (mine / "notes.txt").read_text() == "keep me" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
