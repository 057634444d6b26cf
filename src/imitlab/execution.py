"""Turn action chunks into one action per environment step.

``ChunkExecutor`` is an Agent: it keeps the observation history (repeating the first observation before the
episode start, as the sampler does in training) and either executes ``n_action_steps`` of each chunk before
re-planning (receding horizon), or predicts a chunk every step and averages the predictions that overlap the
current step with weights exp(-m * i), i = 0 for the oldest (temporal ensembling, Zhao et al. 2023, ACT).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from imitlab.policies.base import Policy


class ChunkExecutor:
    def __init__(
        self,
        policy: Policy,
        n_action_steps: int | None = None,
        temporal_ensemble: float | None = None,
    ):
        """n_action_steps defaults to the policy config's; temporal_ensemble=m switches to ensembling."""
        horizon = policy.config.horizon
        self.n_action_steps = n_action_steps or policy.config.n_action_steps
        if not 1 <= self.n_action_steps <= horizon:
            raise ValueError(f"n_action_steps must be in [1, horizon={horizon}], got {self.n_action_steps}")
        if temporal_ensemble is not None and temporal_ensemble < 0:
            raise ValueError(f"temporal_ensemble coefficient m must be >= 0, got {temporal_ensemble}")
        self.policy = policy.eval()
        self.temporal_ensemble = temporal_ensemble
        self.generator = torch.Generator()
        self.chunk_seconds = 0.0
        self.chunk_calls = 0

    def reset(self, seeds: np.ndarray) -> None:
        self.generator.manual_seed(int(np.asarray(seeds).sum()) % (2**63))
        self.history: torch.Tensor | None = None  # (N, T_obs, obs_dim)
        self.queue: list[torch.Tensor] = []  # receding horizon: actions (N, act_dim) still to execute
        self.past_chunks: list[torch.Tensor] = []  # ensembling: chunks (N, H, act_dim), newest last

    def _predict(self) -> torch.Tensor:
        start = time.perf_counter()
        chunk = self.policy.predict_chunk(self.history, generator=self.generator)
        self.chunk_seconds += time.perf_counter() - start
        self.chunk_calls += 1
        return chunk

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        if self.history is None:
            self.history = obs_t.unsqueeze(1).repeat(1, self.policy.config.n_obs_steps, 1)
        else:
            self.history = torch.cat([self.history[:, 1:], obs_t.unsqueeze(1)], dim=1)
        if self.temporal_ensemble is None:
            if not self.queue:
                chunk = self._predict()
                self.queue = list(chunk[:, : self.n_action_steps].unbind(1))
            return self.queue.pop(0).numpy()
        horizon = self.policy.config.horizon
        self.past_chunks = (self.past_chunks + [self._predict()])[-horizon:]
        # Chunk predicted k steps ago holds the current step at position k; oldest first gets weight exp(0).
        candidates = torch.stack(
            [chunk[:, len(self.past_chunks) - 1 - j] for j, chunk in enumerate(self.past_chunks)], dim=0
        )  # (K, N, act_dim), oldest first
        weights = torch.exp(-self.temporal_ensemble * torch.arange(len(candidates), dtype=torch.float32))
        weights = (weights / weights.sum()).view(-1, 1, 1)
        return (weights * candidates).sum(0).numpy()
