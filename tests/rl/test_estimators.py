import numpy as np
import pytest

from imitlab.rl.estimators import RunningMeanStd, discounted_return, gae, normalize, reward_to_go

# Two episodes in lock-step: the first lasts 3 steps, the second 2 (its third step is not alive).
REWARD = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 99.0]])
ALIVE = np.array([[True, True, True], [True, True, False]])


def test_reward_to_go_matches_hand_computed_values():
    g = reward_to_go(REWARD, ALIVE, gamma=0.5)
    expected = np.array([[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3], [4 + 0.5 * 5, 5, 0]])
    np.testing.assert_allclose(g, expected)


def test_plain_return_is_the_discounted_sum_of_the_whole_episode():
    np.testing.assert_allclose(discounted_return(REWARD, ALIVE, gamma=0.5), [1 + 1 + 0.75, 4 + 2.5])


def test_gae_matches_hand_computed_values_with_termination_and_time_limit_bootstrap():
    value = np.array([[0.5, 1.0, 2.0], [1.0, 3.0, 7.0]])
    last_value = np.array([0.0, 10.0])  # episode 0 terminated; episode 1 was cut by a time limit, V(s_T) = 10
    gamma, lam = 0.9, 0.8
    # episode 0: deltas of the three steps, then A_t = delta_t + gamma lam A_{t+1}
    d0 = [1 + 0.9 * 1.0 - 0.5, 2 + 0.9 * 2.0 - 1.0, 3 + 0.9 * 0.0 - 2.0]
    a0_2 = d0[2]
    a0_1 = d0[1] + 0.72 * a0_2
    a0_0 = d0[0] + 0.72 * a0_1
    # episode 1: its last step bootstraps with last_value, and step 2 (not alive) is 0
    d1 = [4 + 0.9 * 3.0 - 1.0, 5 + 0.9 * 10.0 - 3.0]
    a1_1 = d1[1]
    a1_0 = d1[0] + 0.72 * a1_1
    adv = gae(REWARD, value, ALIVE, last_value, gamma, lam)
    np.testing.assert_allclose(adv, [[a0_0, a0_1, a0_2], [a1_0, a1_1, 0.0]])


def test_gae_with_lambda_one_is_reward_to_go_minus_value_after_termination():
    rng = np.random.default_rng(0)
    value = rng.normal(size=REWARD.shape)
    adv = gae(REWARD, value, ALIVE, np.zeros(2), gamma=0.97, lam=1.0)
    np.testing.assert_allclose(adv, np.where(ALIVE, reward_to_go(REWARD, ALIVE, 0.97) - value, 0.0))


def test_gae_with_lambda_zero_is_the_one_step_td_error():
    value = np.array([[0.5, 1.0, 2.0], [1.0, 3.0, 7.0]])
    adv = gae(REWARD, value, ALIVE, np.array([0.0, 10.0]), gamma=0.9, lam=0.0)
    np.testing.assert_allclose(adv[0], [1 + 0.9 - 0.5, 2 + 1.8 - 1.0, 3 - 2.0])
    np.testing.assert_allclose(adv[1], [4 + 2.7 - 1.0, 5 + 9.0 - 3.0, 0.0])


def test_estimators_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        reward_to_go(REWARD, ALIVE[:, :2], 0.9)


def test_normalize_uses_alive_steps_only():
    out = normalize(REWARD, ALIVE)
    assert out[1, 2] == 0.0
    assert abs(out[ALIVE].mean()) < 1e-9 and abs(out[ALIVE].std() - 1) < 1e-6


def test_running_mean_std_matches_numpy_over_the_whole_stream():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 2.0, size=(n, 3)) for n in (5, 17, 1, 40)]
    rms = RunningMeanStd(3)
    for chunk in chunks:
        rms.update(chunk)
    data = np.concatenate(chunks)
    np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-3)
