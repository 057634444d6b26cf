"""The variance of REINFORCE's gradient estimate, measured: for one fixed policy, draw many independent batches
of episodes, compute the estimate of each batch with the plain, reward-to-go and baseline weights (the same
episodes for all three), and report the total variance tr Cov[g] = sum_j Var[g_j] across batches.

The baseline V(s) is fitted beforehand by Monte-Carlo regression on separate episodes of the same policy, and
held fixed, so that every estimator is unbiased for the same gradient. Advantages are not normalised (that would
rescale each estimate by its own batch statistics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from imitlab.envs.registry import get_env_spec
from imitlab.policies.actor_critic import ActorCriticPolicy
from imitlab.rl.estimators import reward_to_go
from imitlab.rl.reinforce import ESTIMATORS, fit_value, pg_weights, surrogate_loss
from imitlab.rl.sampling import Batch, collect


@dataclass
class VarianceRow:
    estimator: str
    total_variance: float  # tr Cov[g] over batches
    mean_grad_norm: float  # |E[g]|, the norm of the mean estimate (same for all estimators up to noise)
    relative: float  # total_variance / the plain estimator's


def _subset(batch: Batch, rows: slice) -> Batch:
    r = batch.rollout
    sub = type(r)(
        obs=r.obs[rows],
        action=r.action[rows],
        reward=r.reward[rows],
        success=r.success[rows],
        alive=r.alive[rows],
        seeds=r.seeds[rows],
        act_seconds=0.0,
        act_calls=0,
        final_obs=r.final_obs[rows],
        terminated=r.terminated[rows],
    )
    return Batch(sub, batch.u[rows], batch.logp[rows])


def gradient_variance(
    policy: ActorCriticPolicy,
    env: str,
    batches: int = 50,
    episodes_per_batch: int = 8,
    gamma: float = 0.99,
    value_episodes: int = 200,
    value_epochs: int = 20,
    seed: int = 0,
) -> list[VarianceRow]:
    """Total variance of the REINFORCE gradient (actor parameters) per estimator, for the fixed ``policy``."""
    spec = get_env_spec(env)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    policy.eval()

    # 1. The baseline: V fitted to reward-to-go on episodes not used below.
    fit_env = spec.make_vector(value_episodes)
    fit = collect(policy, fit_env, rng.integers(0, 10**9, value_episodes), spec.max_steps, generator)
    fit_env.close()
    alive = torch.from_numpy(fit.alive)
    target = torch.as_tensor(reward_to_go(fit.rollout.reward, fit.alive, gamma)[fit.alive], dtype=torch.float32)
    optimizer = torch.optim.Adam(policy.value_net.parameters(), lr=3e-3)
    fit_value(policy, optimizer, fit.obs[alive], target, value_epochs, 256, generator)

    # 2. Many batches of the same fixed policy, all in one lock-step rollout.
    n = batches * episodes_per_batch
    vec = spec.make_vector(n)
    pool = collect(policy, vec, rng.integers(0, 10**9, n), spec.max_steps, generator)
    vec.close()
    actor = [p for name, p in policy.named_parameters() if not name.startswith("value_net.")]
    grads: dict[str, list[np.ndarray]] = {name: [] for name in ESTIMATORS}
    for b in range(batches):
        batch = _subset(pool, slice(b * episodes_per_batch, (b + 1) * episodes_per_batch))
        for name in ESTIMATORS:
            loss = surrogate_loss(policy, batch, pg_weights(policy, batch, name, gamma))
            g = torch.autograd.grad(loss, actor, allow_unused=True)
            grads[name].append(torch.cat([x.flatten() for x in g if x is not None]).numpy())
    rows = []
    for name in ESTIMATORS:
        stacked = np.stack(grads[name])  # (batches, params)
        rows.append(
            VarianceRow(name, float(stacked.var(axis=0, ddof=1).sum()), float(np.linalg.norm(stacked.mean(0))), 0.0)
        )
    for row in rows:
        row.relative = row.total_variance / rows[0].total_variance
    return rows
