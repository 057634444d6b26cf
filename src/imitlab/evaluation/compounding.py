"""Compounding error, measured: start the policy from the same initial states as the expert's trajectories
(same reset seeds) and record, at every step, how far the policy's state is from the expert's at that step.

Distance: Euclidean distance between observations after dividing each dimension by the expert trajectories'
standard deviation of that dimension (so that e.g. an angle's cos/sin and its speed count alike). An episode
contributes to step t while both it and the expert's episode are still running. The curve is the mean over
episodes with a 95% interval of the mean (``stats.mean_interval``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import run_episodes
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.evaluation.stats import mean_interval
from imitlab.policies.base import Policy

CSV_COLUMNS = ["label", "step", "mean", "ci_low", "ci_high", "episodes"]


def trajectory_deviation(policy: Policy, env: str, seeds: np.ndarray) -> np.ndarray:
    """(N, T) distance between the policy's and the expert's observation at each step from reset seeds
    ``seeds`` (N,); NaN where either episode has ended."""
    spec = get_env_spec(env)
    seeds = np.asarray(seeds, dtype=np.int64)
    runs = []
    for agent in (spec.make_expert(), ChunkExecutor(policy)):
        with torch.inference_mode():
            runs.append(run_episodes(spec, agent, seeds))
    expert, learner = runs
    steps = min(expert.obs.shape[1], learner.obs.shape[1])
    scale = np.maximum(expert.obs[expert.alive].std(axis=0), 1e-6)
    distance = np.linalg.norm((learner.obs[:, :steps] - expert.obs[:, :steps]) / scale, axis=-1)
    return np.where(expert.alive[:, :steps] & learner.alive[:, :steps], distance, np.nan)


@dataclass
class CompoundingCurve:
    label: str
    mean: np.ndarray  # (T,) mean distance at step t
    low: np.ndarray  # (T,) 95% interval of the mean
    high: np.ndarray
    episodes: np.ndarray  # (T,) episodes still running at step t

    @classmethod
    def from_deviation(cls, label: str, deviation: np.ndarray) -> CompoundingCurve:
        running = ~np.isnan(deviation)
        deviation = deviation[:, running.any(axis=0)]  # drop steps past every episode's end
        mean, low, high = mean_interval(deviation)
        return cls(label, mean, low, high, (~np.isnan(deviation)).sum(axis=0))

    def rows(self) -> list[dict]:
        return [
            {
                "label": self.label,
                "step": t,
                "mean": float(self.mean[t]),
                "ci_low": float(self.low[t]),
                "ci_high": float(self.high[t]),
                "episodes": int(self.episodes[t]),
            }
            for t in range(len(self.mean))
        ]


def compounding_curve(policy: Policy, env: str, seeds: np.ndarray, label: str) -> CompoundingCurve:
    """The compounding-error curve of ``policy`` from the initial states of reset seeds ``seeds``."""
    return CompoundingCurve.from_deviation(label, trajectory_deviation(policy, env, seeds))
