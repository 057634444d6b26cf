"""Shared by the generative-head tests: dataset statistics, random batches, and the static bimodal toy.

The static bimodal toy: one constant observation; the demonstrated action chunk is all +1 or all -1 with
probability 1/2. A mean-squared-error regressor predicts the average, 0, which no demonstration ever did; a
generative head must put its samples near both modes.
"""

from __future__ import annotations

import time

import torch

from imitlab.core import keys
from imitlab.policies.base import Policy
from imitlab.studies.toy import mode_split


def make_stats(obs_dim: int, act_dim: int, low: float = -2.0, high: float = 2.0) -> dict[str, dict[str, list]]:
    """Dataset statistics in the shape ``Policy(config, stats)`` expects, with non-trivial scales."""

    def feature(dim: int) -> dict[str, list]:
        return {"mean": [0.1] * dim, "std": [0.7] * dim, "min": [low] * dim, "max": [high] * dim}

    return {keys.OBS: feature(obs_dim), keys.ACTION: feature(act_dim)}


def small_policy(cls: type[Policy], T_obs=2, H=4, obs_dim=3, act_dim=2, **fields) -> Policy:
    """A seeded, small ``cls`` in eval mode for shape and behaviour tests (fields override the config)."""
    config = cls.config_class(
        obs_dim=obs_dim, act_dim=act_dim, n_obs_steps=T_obs, horizon=H, n_action_steps=1, **fields
    )
    torch.manual_seed(0)
    return cls(config, make_stats(obs_dim, act_dim)).eval()


def random_batch(B: int, T_obs: int, obs_dim: int, H: int, act_dim: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """obs (B, T_obs, obs_dim), action (B, H, act_dim), action_is_pad (B, H) with a padded tail in some rows."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(B, T_obs, obs_dim, generator=g)
    action = torch.rand(B, H, act_dim, generator=g) * 3 - 1.5
    n_valid = torch.randint(1, H + 1, (B,), generator=g)
    n_valid[0] = H  # at least one row without padding
    action_is_pad = torch.arange(H)[None, :] >= n_valid[:, None]
    return {keys.OBS: obs, keys.ACTION: action, keys.ACTION_IS_PAD: action_is_pad}


def bimodal_batch(B: int, T_obs: int, H: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The static bimodal toy: obs all zeros (B, T_obs, 1); chunk all +1 or all -1 (B, H, 1), no padding."""
    sign = torch.randint(0, 2, (B, 1, 1), generator=generator).float() * 2 - 1
    return {
        keys.OBS: torch.zeros(B, T_obs, 1),
        keys.ACTION: sign.expand(B, H, 1).clone(),
        keys.ACTION_IS_PAD: torch.zeros(B, H, dtype=torch.bool),
    }


BIMODAL_STATS = {  # actions span [-1, 1], so min_max normalisation is the identity
    keys.OBS: {"mean": [0.0], "std": [1.0], "min": [-1.0], "max": [1.0]},
    keys.ACTION: {"mean": [0.0], "std": [1.0], "min": [-1.0], "max": [1.0]},
}


def depth_batch(B: int, T_obs: int, H: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A deterministic task that needs the magnitude of a negative observation: obs ~ U(-3, 1) (B, T_obs, 1);
    the chunk is all +0.5 where obs > -1.5, else all -0.5. (Mish(-0.3) ≈ Mish(-3): a network that applies Mish
    to the raw observation first cannot tell the two apart.)"""
    obs = torch.rand(B, 1, 1, generator=generator) * 4 - 3
    action = torch.where(obs > -1.5, 0.5, -0.5).expand(B, H, 1).clone()
    return {
        keys.OBS: obs.expand(B, T_obs, 1).clone(),
        keys.ACTION: action,
        keys.ACTION_IS_PAD: torch.zeros(B, H, dtype=torch.bool),
    }


def train_on_bimodal(
    policy: Policy, steps: int, batch_size: int = 128, lr: float = 1e-3, seed: int = 0, task=bimodal_batch
) -> tuple[list[float], float]:
    """A plain Adam loop on the static bimodal toy (or another ``task`` batch maker). Returns (losses, seconds)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    cfg = policy.config
    losses = []
    start = time.perf_counter()
    policy.train()
    for _ in range(steps):
        loss, _ = policy.compute_loss(task(batch_size, cfg.n_obs_steps, cfg.horizon, g))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    policy.eval()
    return losses, time.perf_counter() - start


def bimodal_mode_fractions(policy: Policy, n: int = 200, seed: int = 123) -> tuple[float, float, float]:
    """Fractions of n sampled chunks near +1, near -1, and in between (see imitlab.studies.toy.mode_split)."""
    split = mode_split(policy, n, seed)
    return split["+1"], split["-1"], split["between"]


def loss_with_padded_values(policy: Policy, batch: dict[str, torch.Tensor], fill: float, seed: int = 0) -> float:
    """compute_loss on ``batch`` with every padded action replaced by ``fill``, under a fixed torch seed (the
    heads draw noise and times from the global generator during training)."""
    changed = dict(batch)
    changed[keys.ACTION] = torch.where(
        batch[keys.ACTION_IS_PAD][..., None], torch.full_like(batch[keys.ACTION], fill), batch[keys.ACTION]
    )
    torch.manual_seed(seed)
    loss, metrics = policy.compute_loss(changed)
    assert loss.ndim == 0 and torch.isfinite(loss), f"loss must be a finite scalar, got {loss}"
    assert all(isinstance(v, float) for v in metrics.values()), f"metrics must be floats, got {metrics}"
    return float(loss.detach())
