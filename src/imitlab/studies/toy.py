"""The static bimodal toy: one observation (0), two equally valid actions (+1 and -1). A regressor trained with
MSE predicts their mean, 0, which is neither; a generative head should sample both, about half each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.writer import write_dataset
from imitlab.policies.base import Policy, sample_chunks

EPISODE_LENGTH = 16  # frames per demonstration: longer than any chunk, so no chunk is padded at its start
NEAR = 0.5  # a sampled action counts for a mode when it is within this distance of +1 or -1


def write_toy_dataset(out: Path, episodes: int = 200, seed: int = 0) -> EpisodeDataset:
    """``episodes`` demonstrations, each all +1 or all -1 (a fair coin per episode), observation always 0."""
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=episodes)
    zeros = np.zeros((EPISODE_LENGTH, 1), dtype=np.float32)
    recorded = [
        Episode(
            observation=zeros,
            action=np.full((EPISODE_LENGTH, 1), sign, dtype=np.float32),
            reward=np.zeros(EPISODE_LENGTH, dtype=np.float32),
            success=np.ones(EPISODE_LENGTH, dtype=bool),
        )
        for sign in signs
    ]
    return write_dataset(
        Path(out),
        recorded,
        fps=10,
        task="Output +1 or -1.",
        obs_names=["zero"],
        action_names=["a"],
        robot_type="bimodal-toy",
        overwrite=True,
    )


def mode_split(policy: Policy, samples: int = 200, seed: int = 123) -> dict[str, float]:
    """Fractions of ``samples`` chunks, sampled at observation 0, whose mean action is near +1, near -1, or
    neither ("between": the averaged, invalid action)."""
    obs = torch.zeros(samples, policy.config.n_obs_steps, policy.config.obs_dim)
    means = sample_chunks(policy, obs, seed).mean(dim=(1, 2))
    plus = float(((means - 1).abs() < NEAR).float().mean())
    minus = float(((means + 1).abs() < NEAR).float().mean())
    return {"+1": plus, "-1": minus, "between": max(0.0, 1.0 - plus - minus)}
