"""The Meta-World family (imitlab.envs.metaworld), on two tasks and tiny runs: registration of all 50 tasks in
LeRobot's difficulty groups, per-seed positions, the expert, episodes that end at success, the camera variant and
its privileged expert, and a camera dataset collected through the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from imitlab.core.seeds import collection_seeds, evaluation_seeds
from imitlab.envs.registry import ENVS, get_env_spec

pytest.importorskip("metaworld")
metaworld_policies = pytest.importorskip("metaworld.policies")

from imitlab.envs import metaworld as family  # noqa: E402

TASK = "reach"


def test_all_50_tasks_register_from_state_and_from_the_camera_in_lerobots_difficulty_groups():
    names = [name for name, spec in ENVS.items() if spec.family == "metaworld"]
    assert len(names) == 100 and f"metaworld/{TASK}" in names and f"metaworld/{TASK}-pixels" in names
    assert {group: len(tasks) for group, tasks in family.DIFFICULTY.items()} == {
        "easy": 28,
        "medium": 11,
        "hard": 6,
        "very_hard": 5,
    }
    assert sorted(f"{task}-v3" for task in family.TASKS) == sorted(metaworld_policies.ENV_POLICY_MAP)
    assert get_env_spec("metaworld/pick-place").group == "hard"


def test_object_and_goal_positions_follow_the_reset_seed_and_evaluation_never_replays_a_demonstration():
    env = get_env_spec("metaworld/pick-place").make_vector(3)
    collection = collection_seeds(0, 1)[0]
    first, _ = env.reset(seed=[collection, collection, int(evaluation_seeds(0, 1)[0])])
    again, _ = env.reset(seed=[collection, collection + 1, collection])
    np.testing.assert_array_equal(first[0], again[0])  # the same seed, the same object and goal
    goal, obj = slice(36, 39), slice(4, 7)
    assert not np.allclose(first[0, goal], again[1, goal]) and not np.allclose(first[0, obj], again[1, obj])
    assert not np.allclose(first[0, goal], first[2, goal])  # an evaluation seed's start is another one
    env.close()


def test_the_expert_succeeds_and_its_episodes_end_at_the_first_success():
    spec = get_env_spec(f"metaworld/{TASK}")
    from imitlab.envs.rollout import run_episodes

    rollout = run_episodes(spec, spec.make_expert(), evaluation_seeds(0, 4))
    lengths = rollout.alive.sum(axis=1)
    assert rollout.terminated.all() and (lengths < family.MAX_STEPS).all()  # every episode ended at its success
    assert spec.fps == round(1 / family.make_task_env(TASK).dt) == 80


def test_the_camera_variant_shows_the_corner2_view_and_its_expert_acts_on_the_full_state():
    spec = get_env_spec(f"metaworld/{TASK}-pixels")
    from imitlab.envs.rollout import run_episodes

    rollout = run_episodes(spec, spec.make_expert(), evaluation_seeds(0, 2), record_images=True)
    assert rollout.obs.shape[-1] == 4 and rollout.terminated.all()  # the policy's observation: hand xyz, gripper
    frames = rollout.images[family.CAMERA]
    assert frames.shape[-3:] == (family.IMAGE_SIZE, family.IMAGE_SIZE, 3) and frames.dtype == np.uint8
    assert frames.std() > 10  # a scene, not a blank frame


def test_the_expert_of_the_camera_variant_refuses_an_observation_without_the_state():
    expert = get_env_spec(f"metaworld/{TASK}-pixels").make_expert()
    with pytest.raises(ValueError, match="acts on the 39-D state"):
        expert.act(np.zeros((1, 4), np.float32))


def test_noise_augmentation_says_why_it_cannot_label_meta_world_states():
    from imitlab.remedies.augment import env_states

    with pytest.raises(ValueError, match="has no state_from_obs"):
        env_states(f"metaworld/{TASK}", np.zeros((1, 39), np.float32))


def test_collect_writes_a_camera_dataset_that_loads_with_its_frames(tmp_path):
    from imitlab.cli import main
    from imitlab.data.reader import load_dataset

    out = tmp_path / "data"
    main(["collect", "--env", f"metaworld/{TASK}-pixels", "--episodes", "2", "--out", str(out), "--seed", "0"])
    dataset = load_dataset(out)
    assert dataset.num_episodes == 2 and dataset.info["fps"] == 80
    assert dataset.info["features"][family.CAMERA]["shape"] == [family.IMAGE_SIZE, family.IMAGE_SIZE, 3]


def test_sub_envs_split_over_worker_processes_step_as_they_do_in_one_process():
    seeds = [int(s) for s in evaluation_seeds(0, 4)]
    single = family.BatchedMetaWorld(4, TASK)
    workers = family.WorkerMetaWorld(4, TASK, workers=2)
    try:
        expert = family.MetaWorldExpert(TASK)
        obs_a, _ = single.reset(seed=seeds)
        obs_b, _ = workers.reset(seed=seeds)
        for _ in range(30):
            np.testing.assert_array_equal(obs_a, obs_b)
            action = expert.act(obs_a)
            obs_a, reward_a, done_a, _, info_a = single.step(action)
            obs_b, reward_b, done_b, _, info_b = workers.step(action)
            np.testing.assert_array_equal(reward_a, reward_b)
            np.testing.assert_array_equal(info_a["success"], info_b["success"])
        np.testing.assert_array_equal(single.state, workers.state)
    finally:
        single.close()
        workers.close()


def test_mt10_is_meta_worlds_benchmark_list_and_mt50_every_task():
    from imitlab.envs.registry import expand_envs

    assert [f"{name.removeprefix('metaworld/')}-v3" for name in expand_envs("metaworld/MT10")] == list(
        __import__("metaworld.env_dict", fromlist=["MT10_V3"]).MT10_V3
    )
    assert len(expand_envs("metaworld/MT50-pixels")) == 50


def test_a_multi_task_dataset_trains_one_policy_that_is_evaluated_per_task(tmp_path, capsys):
    """collect with two envs writes one dataset with each episode's task; the policy trained on it conditions on
    the task; eval reports each task on its own env and the pooled success, and refuses an unknown task."""
    import json

    from imitlab.cli import main
    from imitlab.data.reader import load_dataset

    envs = f"metaworld/{TASK},metaworld/push"
    main(["collect", "--env", envs, "--episodes", "2", "--out", str(tmp_path / "data"), "--seed", "0"])
    data = load_dataset(tmp_path / "data")
    descriptions = [get_env_spec(f"metaworld/{t}").description for t in (TASK, "push")]
    assert data.tasks == descriptions and data.num_episodes == 4
    assert data.task_index[data.episode_starts].tolist() == [0, 0, 1, 1]
    main(["train", "--policy", "bc", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--steps", "5"])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["policy_config"]["tasks"] == descriptions
    capsys.readouterr()
    out = tmp_path / "eval.json"
    main(["eval", "--checkpoint", str(tmp_path / "run"), "--episodes", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert f"bc on metaworld/{TASK}: success" in printed and "bc over 2 tasks: success" in printed
    result = json.loads(out.read_text())
    assert [r["env"] for r in result["tasks"]] == [f"metaworld/{TASK}", "metaworld/push"]
    assert result["overall"]["episodes"] == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--checkpoint", str(tmp_path / "run"), "--episodes", "1", "--task", "stack the blocks"])
    assert exit_info.value.code == 2
    assert f"unknown task 'stack the blocks'; its tasks: '{descriptions[0]}'" in capsys.readouterr().err


def test_envs_with_other_features_are_not_pooled_into_one_dataset(tmp_path):
    from imitlab.core.errors import InvalidInputError
    from imitlab.data.collect import collect

    with pytest.raises(InvalidInputError, match="metaworld/reach-pixels and metaworld/push differ in state, cameras"):
        collect("metaworld/push,metaworld/reach-pixels", 1, tmp_path / "data")


def test_the_metaworld_study_covers_one_task_per_group_and_reports_success_per_group():
    from imitlab.studies import get_study
    from imitlab.studies.metaworld import GROUPS, _groups_table

    study = get_study("metaworld")
    full = study.grid("full", [0])
    assert sorted({get_env_spec(run.env).group for run in full}) == sorted(GROUPS)
    assert {r.policy for r in study.grid("small", [0, 1])} == {"bc", "diffusion"}
    rows = [
        {"env": "metaworld/reach", "policy": "bc", "seed": 0, "success_rate": 0.5},
        {"env": "metaworld/reach", "policy": "bc", "seed": 1, "success_rate": 0.7},
        {"env": "metaworld/pick-place", "policy": "bc", "seed": 0, "success_rate": 0.2},
    ]
    table = _groups_table(rows).markdown
    assert "| bc | 60% | not run | 20% | not run | 47% |" in table


@pytest.mark.parametrize("workers", [False, True], ids=["in process", "worker processes"])
def test_a_saved_state_continues_the_episode_exactly_in_another_env(workers):
    """get_state / set_state (what DAgger's expert continuations of a chunked head need): an env reset with the
    episode's seed and loaded with its state at step 20 sees what the first env sees, step by step."""
    spec = get_env_spec("metaworld/pick-place")
    make = (lambda n: family.WorkerMetaWorld(n, "pick-place")) if workers else spec.make_vector
    seeds = [int(s) for s in collection_seeds(0, 2)]
    first, second = make(2), make(2)
    expert = spec.make_expert()
    obs, _ = first.reset(seed=seeds)
    for _ in range(20):
        obs = first.step(expert.act(obs))[0]
    state = first.get_state()
    second.reset(seed=seeds)
    loaded = second.set_state(state)
    np.testing.assert_array_equal(loaded, obs)
    for _ in range(15):
        action = expert.act(obs)
        obs, reward, *_ = first.step(action)
        again, reward_again, *_ = second.step(action)
        np.testing.assert_allclose(again, obs, atol=1e-9)
        np.testing.assert_allclose(reward_again, reward, atol=1e-9)
    first.close()
    second.close()
