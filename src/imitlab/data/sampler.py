"""Training chunks from an EpisodeDataset: observation history + action chunk, with the boundary rules.

For a start frame ``s`` of episode ``[start, end)``:

- ``obs[k]`` (k = 0..n_obs_steps-1) is frame ``max(s - (n_obs_steps - 1) + k, start)``: the history ends at
  ``s`` and repeats the episode's frame 0 before the episode begins.
- ``action[k]`` (k = 0..horizon-1) is frame ``min(s + k, end - 1)``: the chunk never crosses into another
  episode; past the end it repeats the episode's last action and ``action_is_pad[k]`` is True exactly there.
- Every camera ``observation.images.<camera>`` gets the same history as state: frames ``obs_index``, returned
  channel-first (B, n_obs_steps, 3, H, W) uint8 (a permuted view), gathered from the decoded frame cache.
- For sequence policies (Decision Transformer) the history also carries, per history frame, the action taken
  there (``history_action``, zeros before the episode begins), its return-to-go (``history_return_to_go``,
  frame 0's before the episode begins) and ``history_is_pad`` (True before the episode begins). The chunk
  executor builds the same history at evaluation (zeros, the target return, repeated first observation).

The index tables are built once with numpy (no loop over frames); ``get`` is a handful of ``np.take`` gathers
wrapped as torch tensors without a copy.
"""

from __future__ import annotations

import numpy as np
import torch

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.data.model import EpisodeDataset


class ChunkSampler:
    """Every frame is a valid chunk start: ``len(sampler) == dataset.num_frames``.

    Memory: two int64 tables of shape (N, n_obs_steps) and (N, horizon) plus a bool (N, horizon) mask.
    """

    def __init__(self, dataset: EpisodeDataset, n_obs_steps: int, horizon: int):
        if int(n_obs_steps) < 1:
            raise InvalidInputError(f"n_obs_steps must be >= 1, got {n_obs_steps}")
        if int(horizon) < 1:
            raise InvalidInputError(f"horizon must be >= 1, got {horizon}")
        self.dataset = dataset
        self.n_obs_steps = int(n_obs_steps)
        self.horizon = int(horizon)

        n = dataset.num_frames
        frames = np.arange(n, dtype=np.int64)
        ep_start = dataset.episode_starts[dataset.episode_index]  # (N,)
        ep_last = dataset.episode_ends[dataset.episode_index] - 1  # (N,)
        obs_offsets = np.arange(-(self.n_obs_steps - 1), 1, dtype=np.int64)  # (n_obs,) ending at 0
        obs_raw = frames[:, None] + obs_offsets  # (N, n_obs)
        obs_idx = np.maximum(obs_raw, ep_start[:, None])
        act_raw = frames[:, None] + np.arange(self.horizon, dtype=np.int64)  # (N, H)
        act_pad = act_raw > ep_last[:, None]
        act_idx = np.minimum(act_raw, ep_last[:, None])

        # Tables and data stay numpy: np.take along axis 0 is the fastest CPU gather for these small rows
        # (several times faster than torch advanced indexing at B=256); outputs are wrapped zero-copy.
        self.obs_index = obs_idx  # (N, n_obs_steps) int64 global frame indices
        self.action_index = act_idx  # (N, horizon) int64 global frame indices
        self.action_is_pad = act_pad  # (N, horizon) bool
        self.history_is_pad = obs_raw < ep_start[:, None]  # (N, n_obs_steps) bool: before the episode begins
        self._obs = np.ascontiguousarray(dataset.observation, dtype=np.float32)
        self._action = np.ascontiguousarray(dataset.action, dtype=np.float32)
        self._rtg = np.ascontiguousarray(dataset.return_to_go, dtype=np.float32)
        self._task = np.ascontiguousarray(dataset.task_index, dtype=np.int64)
        self._images = {key: dataset.frames(key) for key in dataset.camera_keys}  # (N, H, W, 3) uint8 each

    def __len__(self) -> int:
        return int(self.obs_index.shape[0])

    def get(self, indices: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        """Chunks starting at global frame ``indices`` (B,).

        Returns, by the names in ``core.keys``, observation.state (B, n_obs_steps, obs_dim) float32, action
        (B, horizon, act_dim) float32, action_is_pad (B, horizon) bool, return_to_go (B,) float32, index (B,)
        int64, task_index (B,) int64 (the chunk's task in the dataset's task table), and the history's history_action (B, n_obs_steps, act_dim), history_return_to_go (B, n_obs_steps)
        float32 and history_is_pad (B, n_obs_steps) bool (CPU tensors); and per camera key, its frames
        (B, n_obs_steps, 3, H, W) uint8.
        """
        if isinstance(indices, torch.Tensor):
            if indices.is_floating_point() or indices.dtype == torch.bool:
                raise TypeError(f"indices must be integers, got dtype {indices.dtype}")
            idx = indices.detach().to("cpu", torch.int64).numpy()
        else:
            idx = np.asarray(indices)
            if idx.dtype.kind not in "iu":
                raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
            idx = idx.astype(np.int64, copy=False)
        if idx.ndim != 1:
            raise InvalidInputError(f"indices must be 1-D (B,), got shape {tuple(idx.shape)}")
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"chunk start indices must lie in [0, {n}), got min {idx.min()} max {idx.max()}")
        obs_rows = np.take(self.obs_index, idx, axis=0)  # (B, n_obs)
        act_rows = np.take(self.action_index, idx, axis=0)  # (B, H)
        history_is_pad = np.take(self.history_is_pad, idx, axis=0)  # (B, n_obs)
        history_action = np.take(self._action, obs_rows, axis=0)
        history_action[history_is_pad] = 0.0
        # Channel-first as a view: (B, n_obs, H, W, 3) gathered, permuted without a copy (a strided copy costs
        # more than the gather itself).
        images = {
            key: torch.from_numpy(np.take(frames, obs_rows, axis=0)).permute(0, 1, 4, 2, 3)
            for key, frames in self._images.items()
        }
        return {
            **images,
            keys.OBS: torch.from_numpy(np.take(self._obs, obs_rows, axis=0)),
            keys.ACTION: torch.from_numpy(np.take(self._action, act_rows, axis=0)),
            keys.ACTION_IS_PAD: torch.from_numpy(np.take(self.action_is_pad, idx, axis=0)),
            keys.RETURN_TO_GO: torch.from_numpy(np.take(self._rtg, idx)),
            keys.INDEX: torch.from_numpy(idx.copy()),
            keys.TASK_INDEX: torch.from_numpy(np.take(self._task, idx)),
            keys.HISTORY_ACTION: torch.from_numpy(history_action),
            keys.HISTORY_RETURN_TO_GO: torch.from_numpy(np.take(self._rtg, obs_rows)),
            keys.HISTORY_IS_PAD: torch.from_numpy(history_is_pad),
        }

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A batch of ``batch_size`` chunks with start frames drawn uniformly (with replacement)."""
        return self.get(torch.randint(len(self), (batch_size,), generator=generator))
