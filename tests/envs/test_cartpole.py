import gymnasium as gym
import numpy as np

from imitlab.envs.cartpole import SOLVED_STEPS, BatchedCartPole, CartPoleExpert
from imitlab.evaluation.evaluate import evaluate_expert


def test_batched_cartpole_matches_gymnasium_step_for_step_and_freezes_ended_episodes():
    seeds = [3, 7]
    env = BatchedCartPole(2)
    obs, _ = env.reset(seed=seeds)
    refs = [gym.make("CartPole-v1") for _ in seeds]
    ref_obs = [r.reset(seed=s)[0] for r, s in zip(refs, seeds)]
    np.testing.assert_array_equal(obs, np.stack(ref_obs))
    rng = np.random.default_rng(0)
    done = [False, False]
    for _ in range(60):
        actions = rng.integers(0, 2, size=(2, 1)).astype(np.float32)
        obs, reward, terminated, truncated, _ = env.step(actions)
        for i, ref in enumerate(refs):
            if done[i]:
                assert reward[i] == 0 and terminated[i]  # frozen after the end
                continue
            o, r, term, trunc, _ = ref.step(int(actions[i, 0]))
            np.testing.assert_array_equal(obs[i], o)
            assert (reward[i], terminated[i], truncated[i]) == (r, term, trunc)
            done[i] = term or trunc
    assert all(done)  # random pushes drop the pole well within 60 steps


def test_cartpole_expert_keeps_the_pole_up_and_success_means_at_least_475_steps():
    result = evaluate_expert("cartpole", episodes=10, seed=0)
    assert result.success_rate == 1.0 and result.mean_return == 500.0
    env = BatchedCartPole(1)
    env.reset(seed=0)
    assert not env.success[0]
    env.steps[:] = SOLVED_STEPS
    assert env.success[0]
    assert CartPoleExpert().act(np.zeros((3, 4))).shape == (3, 1)
