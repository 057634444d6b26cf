"""Behaviour metrics beyond success: how smooth the executed actions are, and how close predicted chunks are to
the expert's on held-out demonstrations."""

from __future__ import annotations

import numpy as np
import torch

from imitlab.core import keys
from imitlab.data.model import EpisodeDataset
from imitlab.data.sampler import ChunkSampler
from imitlab.policies.base import Policy, sample_chunks


def mean_squared_jerk(action: np.ndarray, alive: np.ndarray) -> float:
    """Mean of ||a_t - 3 a_{t-1} + 3 a_{t-2} - a_{t-3}||^2 (the third difference of the executed actions, in
    action units per step^3) over every step whose four actions lie in the same episode.

    action (N, T, act_dim), alive (N, T) bool. Chunked execution that jumps at chunk boundaries scores high;
    0.0 when no episode is 4 steps long.
    """
    action = np.asarray(action, dtype=np.float64)
    alive = np.asarray(alive, dtype=bool)
    if action.ndim != 3 or alive.shape != action.shape[:2]:
        raise ValueError(f"need action (N, T, act_dim) and alive (N, T), got {action.shape} and {alive.shape}")
    if action.shape[1] < 4:
        return 0.0
    jerk = action[:, 3:] - 3 * action[:, 2:-1] + 3 * action[:, 1:-2] - action[:, :-3]  # (N, T-3, act_dim)
    valid = alive[:, 3:] & alive[:, :-3]  # alive is a prefix per episode, so both ends alive = all four
    if not valid.any():
        return 0.0
    return float((jerk**2).sum(-1)[valid].mean())


@torch.no_grad()
def chunk_mse(policy: Policy, held_out: EpisodeDataset, chunks: int = 256, seed: int = 0) -> float:
    """Mean squared error, in normalised action units, between the policy's chunk and the expert's recorded chunk
    at ``chunks`` random start frames of held-out demonstrations (padded steps excluded). Stochastic heads are
    sampled once per state with a seeded generator."""
    sampler = ChunkSampler(held_out, policy.config.n_obs_steps, policy.config.horizon)
    rng = np.random.default_rng(seed)
    batch = sampler.get(rng.choice(len(sampler), size=min(chunks, len(sampler)), replace=False))
    predicted = sample_chunks(policy, policy.observation(batch), seed)
    norm = policy.action_normalizer.normalize
    squared = ((norm(predicted) - norm(batch[keys.ACTION])) ** 2).sum(-1)  # (B, H)
    valid = ~batch[keys.ACTION_IS_PAD]
    return float(squared[valid].mean() / policy.config.act_dim)
