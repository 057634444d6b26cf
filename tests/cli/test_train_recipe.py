"""`imitlab train` applies the tuned recipe of the dataset's env and policy, records it in config.json, and lets
flags, --set and --no-recipe win."""

from __future__ import annotations

import json

import pytest

from conftest import random_episodes
from imitlab.cli import main
from imitlab.data import write_dataset
from imitlab.experiments.recipes import recipe, recipe_table
from imitlab.policies.base import get_policy_class
from imitlab.training.train import TrainConfig

BUILT_IN = [key for key in recipe_table() if key[0] in ("two-path", "pendulum")]


def dataset(root, env: str):
    """A 6-episode random dataset (obs_dim 3, act_dim 2) recorded as if on ``env``."""
    write_dataset(
        root,
        random_episodes(),
        fps=10,
        task="random",
        obs_names=["a", "b", "c"],
        action_names=["u", "v"],
        robot_type=env,
    )
    return root


def train(tmp_path, env: str, policy: str, *flags: str) -> dict:
    """config.json of `imitlab train` (one optimizer step unless the flags say otherwise) on ``env``'s data."""
    data = dataset(tmp_path / "data", env)
    out = tmp_path / "run"
    main(["train", "--policy", policy, "--data", str(data), "--out", str(out), "--steps", "1", *flags])
    return json.loads((out / "config.json").read_text())


@pytest.mark.parametrize("env, policy", BUILT_IN, ids=[f"{e}/{p}" for e, p in BUILT_IN])
def test_plain_train_writes_every_recipe_field_into_config_json(tmp_path, env, policy):
    config = train(tmp_path, env, policy)
    policy_fields, train_fields = recipe(env, policy)
    assert {k: config["policy_config"][k] for k in policy_fields} == policy_fields
    assert {k: config["train_config"][k] for k in train_fields if k != "steps"} == {
        k: v for k, v in train_fields.items() if k != "steps"
    }
    assert config["train_config"]["steps"] == 1  # the flag wins over the recipe's steps
    assert config["recipe"]["name"] == f"{env}/{policy}"
    assert config["recipe"]["policy_config"] == policy_fields


def test_plain_train_says_which_fields_the_recipe_set_and_how_to_turn_it_off(tmp_path, capsys):
    train(tmp_path, "two-path", "act")
    line, layers = capsys.readouterr().out.splitlines()[:2]
    assert line.startswith("recipe two-path/act; your flags kept for steps") and "--no-recipe" in line
    by_layer = dict(part.split(": ", 1) for part in layers.split("settings by layer: ")[1].split("; "))
    assert "kl_weight=0.1" in by_layer["recipe two-path/act"] and "inference_z=prior" in by_layer["recipe two-path/act"]
    assert by_layer["flags"] == "steps=1 seed=0"  # --seed has a default: 0
    assert "batch_size=64" in by_layer["act defaults"]  # the policy's train_defaults, under the recipe


def test_flags_and_set_override_recipe_fields_and_the_rest_of_the_recipe_still_applies(tmp_path):
    config = train(tmp_path, "two-path", "act", "--chunk-size", "4", "--n-action-steps", "2", "--set", "kl_weight=1")
    assert (config["policy_config"]["horizon"], config["policy_config"]["n_action_steps"]) == (4, 2)
    assert config["policy_config"]["kl_weight"] == 1
    assert (config["policy_config"]["d_model"], config["policy_config"]["n_obs_steps"]) == (64, 2)  # the recipe's
    assert set(config["recipe"]["overridden"]) == {"horizon", "n_action_steps", "kl_weight", "steps"}
    assert "horizon" not in config["recipe"]["policy_config"]


def test_no_recipe_trains_with_the_policy_defaults(tmp_path):
    config = train(tmp_path, "two-path", "tokenized", "--no-recipe")
    defaults = get_policy_class("tokenized").config_class(obs_dim=3, act_dim=2).to_dict()
    assert config["policy_config"] == defaults
    assert config["train_config"]["batch_size"] == get_policy_class("tokenized").train_defaults["batch_size"]
    assert config["recipe"]["name"] is None


def test_data_of_an_env_without_a_recipe_gets_the_policy_defaults(tmp_path, capsys):
    config = train(tmp_path, "imported", "gmm", "--steps", "2")
    assert config["recipe"]["name"] is None and config["train_config"]["steps"] == 2
    assert config["policy_config"]["horizon"] == get_policy_class("gmm").config_class.horizon
    assert "no tuned recipe for gmm on 'imported' data" in capsys.readouterr().out


TABLES = [(scale, recipe_table(scale), key) for scale in ("cpu", "full") for key in recipe_table(scale)]


@pytest.mark.parametrize("table, key", [t[1:] for t in TABLES], ids=[f"{n}:{e}/{p}" for n, _, (e, p) in TABLES])
def test_every_recipe_names_only_real_config_fields(table, key):
    policy_fields, train_fields = table[key]
    get_policy_class(key[1]).config_class(obs_dim=2, act_dim=2, **policy_fields)
    TrainConfig(**train_fields)


def test_recipes_command_prints_each_env_recipe_of_a_policy(capsys):
    main(["recipes", "--policy", "act"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "act"
    envs = {line.split()[0]: line for line in lines[1 : lines.index("every head")]}
    assert set(envs) == {e for e, p in recipe_table() if p == "act"}
    assert "kl_weight=0.1" in envs["two-path"] and "train: steps=2000" in envs["two-path"]


def test_recipes_command_names_the_recipes_there_are_when_none_match(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["recipes", "--env", "cartpole"])
    assert exit_info.value.code == 2
    assert "no recipe for env 'cartpole'; policies with recipes: act" in capsys.readouterr().err


def test_dagger_takes_the_same_recipe_with_set_and_steps_on_top():
    from imitlab.cli import build_parser
    from imitlab.cli.options import recipe_overrides

    flags = ["--env", "two-path", "--policy", "act", "--out", "o", "--steps", "5", "--set", "kl_weight=1"]
    policy_overrides, train_overrides = recipe_overrides(build_parser().parse_args(["dagger", *flags]))
    assert (policy_overrides["kl_weight"], policy_overrides["d_model"], train_overrides["steps"]) == (1, 64, 5)


def camera_dataset(root, size: int):
    """Three short episodes with one size x size camera, recorded as data of no built-in env."""
    import numpy as np

    from imitlab.data.model import Episode

    rng = np.random.default_rng(0)
    episodes = [
        Episode(
            observation=rng.normal(size=(6, 3)).astype(np.float32),
            action=rng.normal(size=(6, 2)).astype(np.float32),
            reward=np.zeros(6, np.float32),
            success=np.zeros(6, bool),
            images={"observation.images.top": rng.integers(0, 256, (6, size, size, 3), dtype=np.uint8)},
        )
        for _ in range(3)
    ]
    write_dataset(
        root, episodes, fps=10, task="t", obs_names=["a", "b", "c"], action_names=["u", "v"], robot_type="mine"
    )
    return root


def test_frames_smaller_than_the_default_crop_get_a_crop_that_fits_and_it_is_printed(tmp_path, capsys):
    data = camera_dataset(tmp_path / "data", 64)
    small = ["--set", 'vision={"backbone": "tiny"}']
    main(["train", "--policy", "bc", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "1", *small])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["policy_config"]["vision"]["crop_shape"] == [56, 56]  # 64 x 84/96, as Chi et al. crop 84 of 96
    assert config["policy_config"]["vision"]["backbone"] == "tiny"  # the user's vision settings kept
    assert "fitted to the data's frames: vision=" in capsys.readouterr().out


def test_a_crop_the_user_chose_is_kept_and_frames_that_fit_the_default_crop_are_left_alone(tmp_path, capsys):
    from imitlab.experiments.recipes import fit_crop

    info = {"features": {"observation.images.top": {"dtype": "video", "shape": [96, 96, 3]}}}
    assert fit_crop(info, {}) is None
    small = {"features": {"observation.images.top": {"dtype": "video", "shape": [64, 48, 3]}}}
    assert fit_crop(small, {"vision": {"crop_shape": None}}) is None
    assert fit_crop(small, {})["crop_shape"] == (56, 42)


def test_an_env_gives_every_head_its_settings_and_a_multi_task_dataset_gets_them_when_its_envs_agree():
    from imitlab.experiments.recipes import resolve_recipe

    for policy in ("bc", "diffusion", "act"):
        settings = resolve_recipe("metaworld/reach", policy)
        assert settings.policy_overrides["obs_scale_floor"] == 0.01 and settings.recipe == f"metaworld/reach/{policy}"
    assert resolve_recipe("metaworld/MT10", "flow").policy_overrides == {"obs_scale_floor": 0.01}
    assert resolve_recipe("metaworld/reach,metaworld/push", "bc").recipe == "metaworld/reach,metaworld/push/bc"
    assert resolve_recipe("metaworld/reach,two-path", "bc").recipe is None  # the envs' recipes differ
    assert resolve_recipe("metaworld/reach", "bc", enabled=False).policy_overrides == {}


def test_recipes_command_prints_the_settings_of_every_head_once_per_env_family(capsys):
    main(["recipes", "--env", "metaworld/reach"])
    assert capsys.readouterr().out.splitlines() == ["every head", "  metaworld/reach  obs_scale_floor=0.01"]
    main(["recipes"])
    assert "  metaworld (50 envs)  obs_scale_floor=0.01" in capsys.readouterr().out.splitlines()
