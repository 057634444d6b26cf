import numpy as np
import pytest

from imitlab.envs.registry import BatchedEnv, StatefulEnv, get_env_spec, require_state
from imitlab.envs.rollout import run_episodes


def test_every_registered_env_builds_a_batched_env():
    for name in ("pendulum", "two-path", "cartpole"):
        env = get_env_spec(name).make_vector(2)
        assert isinstance(env, BatchedEnv)
        env.close()


def test_envs_that_save_their_state_are_stateful_and_the_others_are_refused_by_name():
    pendulum = get_env_spec("pendulum").make_vector(1)
    assert isinstance(pendulum, StatefulEnv) and require_state(pendulum, "pendulum") is pendulum
    cartpole = get_env_spec("cartpole").make_vector(1)
    with pytest.raises(ValueError, match="env 'cartpole' cannot save or load its state"):
        require_state(cartpole, "cartpole")


def test_recording_state_on_an_env_without_it_says_so_instead_of_an_attribute_error():
    spec = get_env_spec("cartpole")
    with pytest.raises(ValueError, match="cannot save or load its state"):
        run_episodes(spec, spec.make_expert(), np.arange(2), record_state=True)
