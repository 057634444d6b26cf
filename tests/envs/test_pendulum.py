import gymnasium as gym
import numpy as np
import pytest

from imitlab.envs import get_env_spec
from imitlab.envs.pendulum import (
    MAX_STEPS,
    UPRIGHT_STEPS,
    BatchedPendulum,
    PendulumSuccess,
    SwingUpExpert,
    angle_normalize,
    pd_law,
    pendulum_obs,
)
from imitlab.envs.rollout import rollout

EVAL_SEEDS = 1_000_000_000 + np.arange(100)


class PDLaw:
    def reset(self, seeds):
        pass

    def act(self, obs):
        return pd_law(obs)


def test_batched_pendulum_matches_gymnasium_step_for_step():
    seeds = [0, 1, 7, 123, 2**31 + 5]
    env = BatchedPendulum(len(seeds))
    refs = [gym.make("Pendulum-v1") for _ in seeds]
    obs, _ = env.reset(seed=seeds)
    ref_obs = np.stack([ref.reset(seed=s)[0] for ref, s in zip(refs, seeds)])
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    for t in range(MAX_STEPS):
        action = rng.uniform(-3, 3, size=(len(seeds), 1)).astype(np.float32)  # beyond ±2: clipping too
        obs, reward, terminated, truncated, _ = env.step(action)
        outs = [ref.step(action[i]) for i, ref in enumerate(refs)]
        np.testing.assert_array_equal(obs, np.stack([o[0] for o in outs]), err_msg=f"step {t}")
        # gymnasium adds a float32 numpy scalar to a float64 one, which rounds differently at ~1e-10.
        np.testing.assert_allclose(reward, [o[1] for o in outs], rtol=1e-9, atol=1e-9, err_msg=f"step {t}")
        assert not terminated.any()
        np.testing.assert_array_equal(truncated, [o[3] for o in outs])
    assert truncated.all()


def test_int_seed_means_seed_plus_index_and_reset_is_deterministic():
    env = BatchedPendulum(3)
    a, _ = env.reset(seed=10)
    b, _ = env.reset(seed=[10, 11, 12])
    env.step(np.ones((3, 1), np.float32))
    c, _ = env.reset(seed=[10, 11, 12])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, c)


def test_spaces_describe_the_batch():
    env = BatchedPendulum(4)
    assert env.num_envs == 4
    assert env.single_observation_space.shape == (3,) and env.observation_space.shape == (4, 3)
    assert env.single_action_space.shape == (1,) and env.action_space.shape == (4, 1)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert info["success"].shape == (4,) and not info["success"].any()


def test_get_state_set_state_round_trip_replays_the_same_future():
    env = BatchedPendulum(5)
    env.reset(seed=3)
    expert = SwingUpExpert()
    obs = pendulum_obs(env.theta, env.theta_dot)
    for _ in range(60):
        obs, *_ = env.step(expert.act(obs))
    state = env.get_state()
    future, nxt = [], obs
    for _ in range(3):
        nxt = env.step(expert.act(nxt))[0]
        future.append(nxt)

    other = BatchedPendulum(5)
    other.reset(seed=99)
    replay_obs = other.set_state(state)
    np.testing.assert_array_equal(replay_obs, obs)
    np.testing.assert_array_equal(other.get_state(), state)
    for expected in future:
        replay_obs = other.step(expert.act(replay_obs))[0]
        np.testing.assert_array_equal(replay_obs, expected)


def test_success_flag_needs_fifty_consecutive_upright_steps():
    env = BatchedPendulum(2)
    env.reset(seed=0)
    # Sub-env 0 balanced upright at rest; sub-env 1 hanging down at rest.
    obs = env.set_state(np.array([[0.0, 0.0, 0, 0], [np.pi, 0.0, 0, 0]]))
    expert = SwingUpExpert()
    flags = []
    for _ in range(UPRIGHT_STEPS):
        obs, _, _, _, info = env.step(np.stack([expert.act(obs)[0], [0.0]]))
        flags.append(info["success"].copy())
    flags = np.array(flags)
    assert not flags[: UPRIGHT_STEPS - 1, 0].any() and flags[-1, 0]
    assert not flags[:, 1].any()
    # Falling resets the streak.
    env.set_state(np.array([[2.0, 0.0, 100, 80], [0.0, 0.0, 100, 80]]))
    _, _, _, _, info = env.step(np.zeros((2, 1), np.float32))
    np.testing.assert_array_equal(info["success"], [False, True])


def test_swing_up_expert_succeeds_on_at_least_95_percent_of_seeds():
    ro = rollout(BatchedPendulum(len(EVAL_SEEDS)), SwingUpExpert(), EVAL_SEEDS, MAX_STEPS)
    assert ro.lengths.min() == MAX_STEPS
    assert ro.episode_success.mean() >= 0.95


def test_swing_up_expert_swings_up_from_the_exact_bottom():
    env = BatchedPendulum(1)
    env.reset(seed=0)
    obs = env.set_state(np.array([[np.pi, 0.0, 0, 0]]))
    expert = SwingUpExpert()
    for _ in range(MAX_STEPS):
        obs, _, _, _, info = env.step(expert.act(obs))
    assert info["success"][0]


def test_pd_law_cannot_swing_up_from_the_bottom():
    ro = rollout(BatchedPendulum(len(EVAL_SEEDS)), PDLaw(), EVAL_SEEDS, MAX_STEPS)
    assert ro.episode_success.mean() <= 0.4  # it only balances the starts that are already near upright

    env = BatchedPendulum(1)
    env.reset(seed=0)
    obs = env.set_state(np.array([[np.pi, 0.0, 0, 0]]))
    closest = np.pi
    for _ in range(MAX_STEPS):
        obs, *_ = env.step(pd_law(obs))
        closest = min(closest, abs(float(angle_normalize(env.theta[0]))))
    assert closest > 1.0  # never gets anywhere near upright (0.3 rad)


def test_pd_law_matches_course_notes_formula():
    obs = pendulum_obs(np.array([0.1, -0.2, 3.0]), np.array([0.4, 1.0, 0.0]))
    np.testing.assert_allclose(pd_law(obs)[:, 0], [-0.7, 0.5, -2.0], atol=1e-6)


def test_single_env_reports_success_like_the_batched_env():
    env = PendulumSuccess()
    batched = BatchedPendulum(1)
    obs, info = env.reset(seed=5)
    batched.reset(seed=[5])
    assert info["success"] is False
    expert = SwingUpExpert()
    for _ in range(MAX_STEPS):
        action = expert.act(obs[None])
        obs, _, terminated, truncated, info = env.step(action[0])
        _, _, _, _, binfo = batched.step(action)
        assert info["success"] == bool(binfo["success"][0])
    assert truncated and info["success"]


def test_pendulum_is_registered():
    spec = get_env_spec("pendulum")
    assert spec.max_steps == MAX_STEPS and spec.fps == 20
    assert spec.make_vector(2).num_envs == 2
    assert isinstance(spec.make_expert(), SwingUpExpert)
    with pytest.raises(ValueError):
        BatchedPendulum(2).step(np.zeros((3, 1)))
