"""Turn action chunks into one action per environment step.

``ChunkExecutor`` is an Agent: it keeps the observation history (repeating the first observation before the
episode start, as the sampler does in training) and either executes ``n_action_steps`` of each chunk before
re-planning (receding horizon), or predicts a chunk every step and averages the predictions that overlap the
current step with weights exp(-m * i), i = 0 for the oldest (temporal ensembling, Zhao et al. 2023, ACT).

For a policy with cameras it also has ``observe_images``, which the rollout calls with each step's frames before
``act``: it keeps each camera's history (B, T_obs, 3, H, W) uint8 beside the state's and passes the policy the dict
observation.

For policies that declare ``history_inputs`` (Decision Transformer) it also keeps, aligned with the observation
history, the actions it executed (zeros before the episode starts) and the return still wanted: ``target_return``
at the first step, then decremented by each reward the rollout reports (``observe_reward``; Chen et al. 2021).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, Policy


def execution_modes(receding: Sequence[int], ensemble: Sequence[float]) -> list[tuple[str, dict[str, Any]]]:
    """(label, ``ChunkExecutor``/``evaluate`` keyword arguments) per execution mode to compare: receding horizon
    executing n actions of each chunk for each n in ``receding`` (repeats dropped, order kept), then temporal
    ensembling with each coefficient m in ``ensemble``."""
    return [(f"receding, {n} of each chunk", {"n_action_steps": n}) for n in dict.fromkeys(receding)] + [
        (f"temporal ensemble m={m:g}", {"temporal_ensemble": m}) for m in ensemble
    ]


def task_index(policy: Policy, task: str | None) -> int | None:
    """The index of ``task`` in a multi-task policy's task table (None for a single-task policy, which takes no
    task); an InvalidInputError listing the known tasks when ``task`` is missing or unknown."""
    if not policy.tasks:
        if task is not None:
            raise InvalidInputError(f"policy {policy.name!r} was trained on one task and takes no task, got {task!r}")
        return None
    if task not in policy.tasks:
        said = "no task was given" if task is None else f"unknown task {task!r}"
        raise InvalidInputError(
            f"policy {policy.name!r} was trained on {len(policy.tasks)} tasks and {said}; its tasks: "
            + ", ".join(repr(t) for t in policy.tasks)
        )
    return policy.tasks.index(task)


class ChunkExecutor:
    def __init__(
        self,
        policy: Policy,
        n_action_steps: int | None = None,
        temporal_ensemble: float | None = None,
        target_return: float | None = None,
        task: str | None = None,
    ):
        """n_action_steps defaults to the policy config's; temporal_ensemble=m switches to ensembling;
        target_return prompts a return-conditioned policy; ``task`` is the task string a multi-task policy acts
        on (one of ``policy.tasks``)."""
        horizon = policy.config.horizon
        self.n_action_steps = policy.config.n_action_steps if n_action_steps is None else n_action_steps
        if not 1 <= self.n_action_steps <= horizon:
            raise InvalidInputError(f"n_action_steps must be in [1, horizon={horizon}], got {self.n_action_steps}")
        if temporal_ensemble is not None and not temporal_ensemble >= 0:  # NaN too
            raise InvalidInputError(f"temporal_ensemble coefficient m must be >= 0, got {temporal_ensemble}")
        self.policy = policy.eval()
        self.temporal_ensemble = temporal_ensemble
        self.conditions = set(policy.history_inputs)
        if keys.HISTORY_RETURN_TO_GO in self.conditions and target_return is None:
            raise InvalidInputError(
                f"policy {policy.name!r} is return-conditioned: give a target return (imitlab eval --target-return R)"
            )
        self.target_return = target_return
        self.task_index = task_index(policy, task)
        self.generator = torch.Generator()
        self.chunk_seconds = 0.0
        self.chunk_calls = 0
        if policy.cameras:  # only then an image-observing agent: the rollout renders for agents that have the hook
            self.observe_images = self._observe_images

    def reset(self, seeds: np.ndarray) -> None:
        self.generator.manual_seed(int(np.asarray(seeds).sum()) % (2**63))
        self.history: torch.Tensor | None = None  # (N, T_obs, obs_dim)
        self.queue: list[torch.Tensor] = []  # receding horizon: actions (N, act_dim) still to execute
        self.past_chunks: list[torch.Tensor] = []  # ensembling: chunks (N, H, act_dim), newest last
        self.return_to_go: torch.Tensor | None = None  # (N,) return still wanted at the current step
        self.history_action: torch.Tensor | None = None  # (N, T_obs, act_dim) executed, zeros before the start
        self.history_return_to_go: torch.Tensor | None = None  # (N, T_obs)
        self.latest_images: dict[str, np.ndarray] = {}  # camera key -> (N, H, W, 3) uint8, this step's frames
        self.image_history: dict[str, torch.Tensor] = {}  # camera key -> (N, T_obs, 3, H, W) uint8

    def _observe_images(self, images: dict[str, np.ndarray]) -> None:
        """The rollout hands over this step's frames, camera key -> (N, H, W, 3) uint8, before ``act``."""
        self.latest_images = images

    def observe_reward(self, reward: np.ndarray) -> None:
        """The rollout reports the rewards (N,) of the last step: the return still wanted drops by them."""
        if self.return_to_go is not None:
            self.return_to_go = self.return_to_go - torch.as_tensor(reward, dtype=torch.float32)

    def _predict(self) -> torch.Tensor:
        start = time.perf_counter()
        device = self.policy.device
        assert self.history is not None, "act() fills the observation history before predicting"
        context = {name: getattr(self, name).to(device) for name in self.conditions}
        state = self.history.to(device)
        obs: Observation = state
        if self.policy.dict_obs:
            obs = {keys.OBS: state, **{key: frames.to(device) for key, frames in self.image_history.items()}}
            if self.task_index is not None:
                obs[keys.TASK_INDEX] = torch.full((len(state),), self.task_index, dtype=torch.long, device=device)
        chunk = self.policy.predict_chunk(obs, generator=self.generator, **context).cpu()
        self.chunk_seconds += time.perf_counter() - start
        self.chunk_calls += 1
        return chunk

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        if self.history is None:
            self.history = obs_t.unsqueeze(1).repeat(1, self.policy.config.n_obs_steps, 1)
        else:
            self.history = torch.cat([self.history[:, 1:], obs_t.unsqueeze(1)], dim=1)
        for key in self.policy.cameras:
            self._extend_image_history(key)
        if self.conditions:
            self._extend_condition_history(len(obs))
        action = self._next_action()
        if self.history_action is not None:  # kept for policies with history inputs only
            self.history_action[:, -1] = torch.as_tensor(action)
        return action

    def _extend_image_history(self, key: str) -> None:
        """Shift camera ``key``'s latest frames into its history; before the first step the history repeats the
        first frame, as the chunk sampler pads it."""
        if key not in self.latest_images:
            raise InvalidInputError(
                f"policy {self.policy.name!r} sees camera {key!r}, but the rollout gave no frames of it "
                f"(got: {', '.join(self.latest_images) or 'none'}); evaluate it on an env with that camera"
            )
        frames = torch.as_tensor(np.asarray(self.latest_images[key])).permute(0, 3, 1, 2)  # (N, 3, H, W)
        past = self.image_history.get(key)
        if past is None:
            self.image_history[key] = frames.unsqueeze(1).repeat(1, self.policy.config.n_obs_steps, 1, 1, 1)
        else:
            self.image_history[key] = torch.cat([past[:, 1:], frames.unsqueeze(1)], dim=1)

    def _extend_condition_history(self, n: int) -> None:
        """Shift in the current step: a zero placeholder action (filled once chosen) and the return still
        wanted; before the first step both histories hold what the chunk sampler pads with."""
        c = self.policy.config
        if self.history_action is None:
            self.history_action = torch.zeros(n, c.n_obs_steps, c.act_dim)
            self.return_to_go = torch.full((n,), float(self.target_return or 0.0))
            self.history_return_to_go = self.return_to_go[:, None].repeat(1, c.n_obs_steps)
        else:
            assert self.return_to_go is not None and self.history_return_to_go is not None  # set with history_action
            self.history_action = torch.cat([self.history_action[:, 1:], torch.zeros(n, 1, c.act_dim)], dim=1)
            self.history_return_to_go = torch.cat([self.history_return_to_go[:, 1:], self.return_to_go[:, None]], dim=1)

    def _next_action(self) -> np.ndarray:
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
