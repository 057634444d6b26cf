"""Return and advantage estimators on batches of episodes: pure numpy functions (no torch, no I/O).

Arrays are (N, T): N episodes in lock-step, step t of episode i is real while ``alive[i, t]`` (the layout of
``imitlab.envs.rollout.Rollout``); values at steps that are not alive are ignored and returned as 0.
"""

from __future__ import annotations

import numpy as np

from imitlab.core.errors import InvalidInputError


def _check(reward: np.ndarray, alive: np.ndarray) -> None:
    if reward.ndim != 2 or reward.shape != alive.shape:
        raise InvalidInputError(f"reward and alive must be (N, T) of one shape, got {reward.shape} and {alive.shape}")


def discounted_return(reward: np.ndarray, alive: np.ndarray, gamma: float) -> np.ndarray:
    """R(tau) = sum_t gamma^t r_t per episode: (N,). The plain REINFORCE estimator weights every step by it."""
    _check(reward, alive)
    discount = gamma ** np.arange(reward.shape[1])
    return (reward * alive * discount).sum(axis=1)


def reward_to_go(reward: np.ndarray, alive: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = sum_{k >= t} gamma^(k - t) r_k within each episode (causality: an action cannot change the rewards
    before it): (N, T), 0 where not alive. Monte-Carlo: nothing is bootstrapped after an episode's last step."""
    _check(reward, alive)
    out = np.zeros(reward.shape, dtype=np.float64)
    running = np.zeros(reward.shape[0])
    for t in reversed(range(reward.shape[1])):
        running = np.where(alive[:, t], reward[:, t] + gamma * running, 0.0)
        out[:, t] = running
    return out


def gae(
    reward: np.ndarray, value: np.ndarray, alive: np.ndarray, last_value: np.ndarray, gamma: float, lam: float
) -> np.ndarray:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16): A_t = sum_l (gamma lam)^l delta_{t+l},
    delta_t = r_t + gamma V(s_{t+1}) - V(s_t), summed within each episode; (N, T), 0 where not alive.

    ``last_value`` (N,) is V of the observation after each episode's last step: 0 if the episode terminated,
    V(s_T) if it was cut by a time limit (the return goes on; dropping it would bias the last steps).
    """
    _check(reward, alive)
    if value.shape != reward.shape or last_value.shape != reward.shape[:1]:
        raise InvalidInputError(
            f"value must be {reward.shape} and last_value ({reward.shape[0]},), "
            f"got {value.shape} and {last_value.shape}"
        )
    n, horizon = reward.shape
    adv = np.zeros((n, horizon), dtype=np.float64)
    next_adv = np.zeros(n)
    for t in reversed(range(horizon)):
        next_alive = alive[:, t + 1] if t + 1 < horizon else np.zeros(n, dtype=bool)
        next_value = np.where(next_alive, value[:, t + 1] if t + 1 < horizon else 0.0, last_value)
        delta = reward[:, t] + gamma * next_value - value[:, t]
        next_adv = np.where(alive[:, t], delta + gamma * lam * np.where(next_alive, next_adv, 0.0), 0.0)
        adv[:, t] = next_adv
    return adv


def normalize(x: np.ndarray, mask: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(x - mean) / std over the entries where ``mask``; 0 elsewhere."""
    sel = x[mask]
    return np.where(mask, (x - sel.mean()) / (sel.std() + eps), 0.0)


class RunningMeanStd:
    """Mean and variance of a stream of (B, dim) batches (Chan et al.'s parallel update), for observation
    normalisation."""

    def __init__(self, dim: int):
        self.mean = np.zeros(dim)
        self.var = np.ones(dim)
        self.count = 1e-4

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(-1, len(self.mean))
        batch_mean, batch_var, n = x.mean(0), x.var(0), len(x)
        delta, total = batch_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        mean, var = (np.asarray(state[key], dtype=np.float64).reshape(len(self.mean)) for key in ("mean", "var"))
        self.mean, self.var, self.count = mean.copy(), var.copy(), float(state["count"])
