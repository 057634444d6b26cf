import numpy as np
import pytest

from imitlab.core.seeds import collection_seeds
from imitlab.data.collect import collect
from imitlab.data.noisy_expert import Noise, NoisyExpert, noisy_expert_episodes
from imitlab.data.reader import load_dataset
from imitlab.envs.registry import get_env_spec


class ConstantExpert:
    def reset(self, seeds):
        pass

    def act(self, obs):
        return np.full((len(obs), 2), 0.5, dtype=np.float32)


def test_zero_noise_executes_the_expert_action():
    agent = NoisyExpert(ConstantExpert(), Noise(), low=-np.ones(2), high=np.ones(2))
    agent.reset(np.arange(4))
    np.testing.assert_array_equal(agent.act(np.zeros((4, 3))), np.full((4, 2), 0.5))


def test_noisy_action_stays_in_bounds_and_clean_action_is_kept():
    agent = NoisyExpert(ConstantExpert(), Noise(std=3.0, epsilon=0.3), low=-np.ones(2), high=np.ones(2), seed=1)
    agent.reset(np.arange(500))
    action = agent.act(np.zeros((500, 3)))
    assert action.min() >= -1 and action.max() <= 1 and action.std() > 0.3
    np.testing.assert_array_equal(agent.clean_actions[0], np.full((500, 2), 0.5))


def test_epsilon_one_gives_uniform_random_actions():
    agent = NoisyExpert(ConstantExpert(), Noise(epsilon=1.0), low=-np.ones(2), high=np.ones(2))
    agent.reset(np.arange(2000))
    action = agent.act(np.zeros((2000, 3)))
    assert abs(action.mean()) < 0.05 and abs(action.var() - 1 / 3) < 0.03


def test_noise_is_reproducible_from_seeds():
    spec = get_env_spec("pendulum")
    a = noisy_expert_episodes(spec, collection_seeds(0, 2), Noise(0.5, 0.1), seed=3)
    b = noisy_expert_episodes(spec, collection_seeds(0, 2), Noise(0.5, 0.1), seed=3)
    np.testing.assert_array_equal(a[1].action, b[1].action)


def test_expert_label_records_the_clean_action_at_the_noisy_states():
    spec = get_env_spec("pendulum")
    seeds = collection_seeds(0, 3)
    executed = noisy_expert_episodes(spec, seeds, Noise(std=1.0), label="executed", seed=0)
    labelled = noisy_expert_episodes(spec, seeds, Noise(std=1.0), label="expert", seed=0)
    np.testing.assert_array_equal(executed[0].observation, labelled[0].observation)  # same trajectory
    expert = spec.make_expert()
    expert.reset(seeds[:1])
    np.testing.assert_allclose(labelled[0].action[:1], expert.act(labelled[0].observation[:1]), atol=1e-6)
    assert np.abs(executed[0].action - labelled[0].action).mean() > 0.1


def test_noisy_collection_gives_varied_returns(tmp_path):
    data = load_dataset(collect("pendulum", 12, tmp_path / "d", noise=Noise(std=0.5, epsilon=0.2)).root)
    returns = np.array([data.reward[s:e].sum() for s, e in zip(data.episode_starts, data.episode_ends)])
    assert returns.max() - returns.min() > 100


@pytest.mark.parametrize("std, epsilon", [(-0.1, 0.0), (0.0, 1.5)])
def test_invalid_noise_is_rejected(std, epsilon):
    with pytest.raises(ValueError):
        Noise(std, epsilon)


def test_a_list_of_noise_levels_is_cycled_over_the_episodes():
    agent = NoisyExpert(ConstantExpert(), [Noise(), Noise(epsilon=1.0)], low=-np.ones(2), high=np.ones(2))
    agent.reset(np.arange(400))
    action = agent.act(np.zeros((400, 3)))
    np.testing.assert_array_equal(action[0::2], 0.5)  # even episodes: the clean expert
    assert (action[1::2] != 0.5).all()  # odd episodes: random actions


def test_noisy_expert_collection_on_discrete_actions_names_the_env():
    with pytest.raises(ValueError, match="cartpole: noisy-expert collection needs a continuous"):
        noisy_expert_episodes(get_env_spec("cartpole"), np.arange(2), Noise(std=0.1))
