import gymnasium as gym
import numpy as np
import pytest

from imitlab.envs import get_env_spec
from imitlab.envs.rollout import rollout
from imitlab.envs.two_path import (
    GOAL,
    GYM_ID,
    MAX_SPEED,
    MAX_STEPS,
    OBSTACLE_RADIUS,
    BatchedTwoPath,
    TwoPathEnv,
    TwoPathExpert,
    detour_side,
)

EVAL_SEEDS = 1_000_000_000 + np.arange(200)


class StraightToGoal:
    """The average of the two detours: head straight for the goal."""

    def reset(self, seeds):
        pass

    def act(self, obs):
        return (GOAL - obs).astype(np.float32)


def expert_rollout(seeds=EVAL_SEEDS):
    expert = TwoPathExpert()
    return rollout(BatchedTwoPath(len(seeds)), expert, seeds, MAX_STEPS), expert


def test_expert_reaches_the_goal_on_at_least_99_percent_of_seeds():
    ro, _ = expert_rollout()
    assert ro.episode_success.mean() >= 0.99


def test_expert_uses_both_detours_about_equally_and_follows_its_mode():
    ro, expert = expert_rollout()
    sides = np.array([detour_side(ro.episode(i)["observation"]) for i in range(len(EVAL_SEEDS))])
    assert 0.3 <= (sides == 1).mean() <= 0.7
    np.testing.assert_array_equal(sides, expert.modes)


def test_expert_mode_is_reproducible_per_seed():
    a, b = TwoPathExpert(), TwoPathExpert()
    a.reset(np.arange(50))
    b.reset(np.arange(50))
    np.testing.assert_array_equal(a.modes, b.modes)
    assert set(np.unique(a.modes)) == {-1, 1}


def test_expert_takes_the_side_the_robot_is_clearly_on():
    expert = TwoPathExpert()
    expert.reset(np.zeros(2, dtype=np.int64))  # both episodes share one mode
    action = expert.act(np.array([[0.3, -0.8], [-0.3, -0.8]], dtype=np.float32))
    assert action[0, 0] > 0 and action[1, 0] < 0
    assert np.all(np.linalg.norm(action, axis=1) <= MAX_SPEED + 1e-6)


def test_straight_line_average_policy_collides_with_the_obstacle():
    ro = rollout(BatchedTwoPath(len(EVAL_SEEDS)), StraightToGoal(), EVAL_SEEDS, MAX_STEPS)
    assert not ro.episode_success.any()
    last = ro.obs[np.arange(len(EVAL_SEEDS)), ro.lengths - 1]
    assert np.all(np.linalg.norm(last, axis=1) < OBSTACLE_RADIUS + MAX_SPEED + 1e-6)  # it ended at the obstacle


def test_reset_is_deterministic_per_seed_and_matches_the_single_env():
    env = BatchedTwoPath(3)
    a, _ = env.reset(seed=[4, 5, 6])
    env.step(np.full((3, 2), 0.1, np.float32))
    b, info = env.reset(seed=[4, 5, 6])
    np.testing.assert_array_equal(a, b)
    assert not info["success"].any()
    single = TwoPathEnv()
    for i, s in enumerate([4, 5, 6]):
        np.testing.assert_array_equal(single.reset(seed=s)[0], a[i])
    assert not np.array_equal(a[0], a[1])


def test_get_state_set_state_round_trip_replays_the_same_future():
    ro_env = BatchedTwoPath(4)
    expert = TwoPathExpert()
    obs, _ = ro_env.reset(seed=7)
    expert.reset(7 + np.arange(4))
    for _ in range(5):
        obs, *_ = ro_env.step(expert.act(obs))
    state = ro_env.get_state()
    future, nxt = [], obs
    for _ in range(5):
        nxt = ro_env.step(expert.act(nxt))[0]
        future.append(nxt)

    other = BatchedTwoPath(4)
    other.reset(seed=99)
    replay = other.set_state(state)
    np.testing.assert_array_equal(replay, obs)
    np.testing.assert_array_equal(other.get_state(), state)
    for expected in future:
        replay = other.step(expert.act(replay))[0]
        np.testing.assert_array_equal(replay, expected)


def test_success_only_on_reaching_the_goal_and_episodes_stay_frozen_after_ending():
    env = BatchedTwoPath(3)
    env.reset(seed=0)
    # 0: one step from the goal; 1: one step from the obstacle; 2: in the open.
    env.set_state(np.array([[0.0, 0.85, 0, 0, 0], [0.0, -0.55, 0, 0, 0], [1.0, 0.0, 0, 0, 0]]))
    up = np.tile([0.0, 0.1], (3, 1)).astype(np.float32)
    obs, reward, terminated, truncated, info = env.step(up)
    np.testing.assert_array_equal(terminated, [True, True, False])
    np.testing.assert_array_equal(info["success"], [True, False, False])
    assert reward[0] > 1.0 and reward[1] < -0.9
    obs2, reward2, terminated2, _, info2 = env.step(up)
    np.testing.assert_array_equal(obs2[:2], obs[:2])  # ended episodes do not move
    np.testing.assert_array_equal(reward2[:2], [0.0, 0.0])
    np.testing.assert_array_equal(info2["success"], [True, False, False])


def test_leaving_the_walls_fails_and_the_step_limit_truncates():
    env = BatchedTwoPath(2)
    env.reset(seed=0)
    env.set_state(np.array([[1.45, 0.0, 0, 0, 0], [1.0, 0.0, MAX_STEPS - 1, 0, 0]]))
    _, _, terminated, truncated, info = env.step(np.array([[0.1, 0.0], [0.0, 0.0]], np.float32))
    np.testing.assert_array_equal(terminated, [True, False])
    np.testing.assert_array_equal(truncated, [False, True])
    assert not info["success"].any()


def test_speed_is_clipped_to_max_speed():
    env = BatchedTwoPath(1)
    obs, _ = env.reset(seed=0)
    new, *_ = env.step(np.array([[-3.0, 0.0]], np.float32))
    np.testing.assert_allclose(np.linalg.norm(new - obs), MAX_SPEED, atol=1e-6)


def test_gymnasium_id_makes_the_single_env():
    env = gym.make(GYM_ID)
    obs, info = env.reset(seed=3)
    assert obs.shape == (2,) and info["success"] is False
    obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
    assert isinstance(reward, float) and isinstance(info["success"], bool)


def test_detour_side_classifies_by_the_sign_of_x_beside_the_obstacle():
    t = np.linspace(-1, 1, 21)
    assert detour_side(np.stack([0.6 * np.cos(t * np.pi / 2), t], 1)) == 1
    assert detour_side(np.stack([-0.6 * np.cos(t * np.pi / 2), t], 1)) == -1
    with pytest.raises(ValueError):
        detour_side(np.zeros((0, 2)))


def test_two_path_is_registered():
    spec = get_env_spec("two-path")
    assert spec.max_steps == MAX_STEPS and spec.obs_names == ("x", "y")
    env = spec.make_vector(3)
    assert env.num_envs == 3 and env.observation_space.shape == (3, 2) and env.action_space.shape == (3, 2)
    expert = spec.make_expert()
    with pytest.raises(ValueError, match="reset"):
        expert.act(np.zeros((3, 2), np.float32))
