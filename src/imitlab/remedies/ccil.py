"""Synthetic corrective labels, CCIL-style (Ke et al. 2024, "CCIL: Continuity-based Data Augmentation for
Corrective Imitation Learning"): learn a dynamics model from the demonstrations only, and label states near
the demonstrations with actions that the model predicts bring them back onto the demonstration. No expert
is queried; the labels are only as good as the model, so they are filtered by a bound on the model's error.

For every demonstrated transition (o_t, a_t, o_{t+1}) and each of ``copies`` perturbations:

1. perturb: o~ = o_t + scale * std_obs * N(0, I);
2. solve for the corrective action  a~ = argmin_{a in [a_min, a_max]} || f(o~, a) - o_{t+1} ||^2  by projected
   gradient descent from a_t, with f the mean of an ensemble of K dynamics models (CCIL's "Taylor" labels,
   with the learned model in place of the true dynamics);
3. keep the label only if  residual + disagreement <= max_error, where residual = || f(o~, a~) - o_{t+1} || is
   how far the model says a~ lands from the demonstrated next state and disagreement is the ensemble's spread
   at (o~, a~), a proxy for the model's own error there (both RMS over observation dims, in units of std_obs).
   CCIL bounds the label error through the model's local Lipschitz constant; the ensemble spread is this
   code's stand-in for that bound.

A kept label becomes a short episode: for a chunked policy (horizon H) the chunk is a~ followed by the
demonstration's own actions a_{t+1..t+H-1} (after the correction the model puts the system back on the
demonstration, which the expert then continues), observations likewise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.policies.mlp import mlp
from imitlab.remedies.augment import perturb


@dataclass(frozen=True)
class CCILConfig:
    copies: int = 1  # perturbed states per demonstrated transition
    scale: float = 0.1  # perturbation std, in units of the dataset's per-dimension observation std
    max_error: float = 0.05  # keep labels whose residual + ensemble spread (RMS, std_obs units) is below this
    ensemble: int = 3  # dynamics models; their spread estimates the model error
    hidden_dim: int = 256  # dynamics MLP width
    num_layers: int = 2  # dynamics MLP hidden layers
    model_steps: int = 3000  # optimizer steps per dynamics model
    batch_size: int = 256
    lr: float = 1e-3
    solve_steps: int = 100  # projected gradient steps of the action solve
    solve_lr: float = 0.05  # Adam step size of the action solve (normalised action units)

    def __post_init__(self) -> None:
        for name in ("copies", "ensemble", "hidden_dim", "num_layers", "model_steps", "batch_size", "solve_steps"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"ccil {name} must be >= 1, got {getattr(self, name)}")
        for name in ("scale", "max_error", "lr", "solve_lr"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"ccil {name} must be > 0, got {getattr(self, name)}")


class DynamicsEnsemble(nn.Module):
    """K MLPs predicting the next observation from (obs, action), in env units; each network sees normalised
    inputs and predicts the normalised change o_{t+1} - o_t. ``forward``: obs (B, obs_dim), action (B, act_dim)
    -> next obs (K, B, obs_dim)."""

    # buffers (dim,): input and output normalisation in env units
    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    act_mean: torch.Tensor
    act_std: torch.Tensor
    delta_std: torch.Tensor

    def __init__(self, obs_mean, obs_std, act_mean, act_std, delta_std, config: CCILConfig):
        super().__init__()
        for name, value in (
            ("obs_mean", obs_mean),
            ("obs_std", obs_std),
            ("act_mean", act_mean),
            ("act_std", act_std),
            ("delta_std", delta_std),
        ):
            self.register_buffer(
                name, torch.as_tensor(np.maximum(value, 1e-6) if "std" in name else value, dtype=torch.float32)
            )
        obs_dim, act_dim = len(obs_mean), len(act_mean)
        self.nets = nn.ModuleList(
            mlp(obs_dim + act_dim, obs_dim, config.hidden_dim, config.num_layers) for _ in range(config.ensemble)
        )

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([(obs - self.obs_mean) / self.obs_std, (action - self.act_mean) / self.act_std], dim=-1)
        return torch.stack([obs + net(x) * self.delta_std for net in self.nets])


def transitions(dataset: EpisodeDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global frame indices t (M,) with a successor t + 1 in the same episode, and (o_t, a_t), o_{t+1}."""
    t = np.flatnonzero(np.arange(dataset.num_frames) + 1 < dataset.episode_ends[dataset.episode_index])
    return t, dataset.observation[t], dataset.observation[t + 1]


def fit_dynamics(dataset: EpisodeDataset, config: CCILConfig = CCILConfig(), seed: int = 0) -> DynamicsEnsemble:
    """Train the ensemble on the dataset's transitions (MSE on the normalised change); each member has its
    own initialisation and batch order."""
    t, obs, next_obs = transitions(dataset)
    action = dataset.action[t]
    delta = next_obs - obs
    model = DynamicsEnsemble(obs.mean(0), obs.std(0), action.mean(0), action.std(0), delta.std(0), config)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    data = [torch.as_tensor(x) for x in (obs, action, next_obs)]
    for net in model.nets:
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
        for _ in range(config.model_steps):
            idx = torch.randint(len(t), (config.batch_size,), generator=generator)
            o, a, target = (x[idx] for x in data)
            x = torch.cat([(o - model.obs_mean) / model.obs_std, (a - model.act_mean) / model.act_std], -1)
            loss = ((net(x) - (target - o) / model.delta_std) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


@dataclass
class CorrectiveLabels:
    observation: np.ndarray  # (M, obs_dim) perturbed observations o~
    action: np.ndarray  # (M, act_dim) solved corrective actions a~
    error: np.ndarray  # (M,) residual + disagreement, RMS in std_obs units
    kept: np.ndarray  # (M,) bool: error <= max_error
    source: np.ndarray  # (M,) global frame index t of the demonstrated transition each label corrects towards


def corrective_labels(
    model: nn.Module,
    obs: np.ndarray,
    target: np.ndarray,
    init_action: np.ndarray,
    action_low: np.ndarray,
    action_high: np.ndarray,
    obs_std: np.ndarray,
    config: CCILConfig = CCILConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """Solve a~ = argmin ||mean_k f_k(obs, a) - target||^2 over the box [action_low, action_high] (from
    ``init_action``); ``model(obs, action)`` -> (K, B, obs_dim). Returns a~ (B, act_dim) and the error
    residual + disagreement (B,) in units of ``obs_std``."""
    obs_t, target_t = torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(target, dtype=torch.float32)
    low, high = (torch.as_tensor(x, dtype=torch.float32) for x in (action_low, action_high))
    std = torch.as_tensor(np.maximum(obs_std, 1e-6), dtype=torch.float32)
    width = (high - low).clamp_min(1e-6)
    u = ((torch.as_tensor(init_action, dtype=torch.float32) - low) / width).clamp(0, 1).requires_grad_(True)
    optimizer = torch.optim.Adam([u], lr=config.solve_lr)
    for _ in range(config.solve_steps):
        miss = (model(obs_t, low + u * width).mean(0) - target_t) / std
        loss = (miss**2).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            u.clamp_(0, 1)
    with torch.no_grad():
        action = low + u * width
        predicted = model(obs_t, action) / std  # (K, B, obs_dim)
        residual = (predicted.mean(0) - target_t / std).pow(2).mean(-1).sqrt()
        disagreement = predicted.var(0, unbiased=False).mean(-1).sqrt()
    return action.numpy(), (residual + disagreement).numpy()


def synthesize(
    dataset: EpisodeDataset,
    model: nn.Module,
    config: CCILConfig = CCILConfig(),
    seed: int = 0,
    project: Callable[[np.ndarray], np.ndarray] | None = None,
) -> CorrectiveLabels:
    """Perturb every demonstrated transition ``config.copies`` times and solve and score its corrective label.
    ``project`` maps perturbed observations onto ones the env can show (``augment.project_to_env``); it uses
    the env's observation geometry, not its expert or dynamics."""
    t, obs, next_obs = transitions(dataset)
    t, obs, next_obs = (np.repeat(x, config.copies, axis=0) for x in (t, obs, next_obs))
    obs_std = dataset.stats[keys.OBS]["std"]
    rng = np.random.default_rng(seed)
    perturbed = perturb(obs, config.scale, obs_std, rng)
    if project is not None:
        perturbed = project(perturbed)
    action_stats = dataset.stats[keys.ACTION]
    action, error = corrective_labels(
        model, perturbed, next_obs, dataset.action[t], action_stats["min"], action_stats["max"], obs_std, config
    )
    return CorrectiveLabels(perturbed, action, error, error <= config.max_error, t)


def label_episodes(dataset: EpisodeDataset, labels: CorrectiveLabels, horizon: int = 1) -> list[Episode]:
    """One short episode per kept label: (o~, a~), then up to ``horizon - 1`` frames of the demonstration
    from t + 1 on (within its episode). Rewards are 0 and success False: these frames were never executed."""
    episodes = []
    for i in np.flatnonzero(labels.kept):
        t = int(labels.source[i])
        end = min(t + horizon, int(dataset.episode_ends[dataset.episode_index[t]]))
        observation = np.concatenate([labels.observation[i : i + 1], dataset.observation[t + 1 : end]])
        action = np.concatenate([labels.action[i : i + 1], dataset.action[t + 1 : end]])
        episodes.append(
            Episode(
                observation=observation,
                action=action,
                reward=np.zeros(len(action)),
                success=np.zeros(len(action), dtype=bool),
            )
        )
    return episodes
