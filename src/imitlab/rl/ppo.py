"""PPO with the clipped surrogate (Schulman et al. 2017, "Proximal Policy Optimization Algorithms"), in the
spirit of CleanRL's ``ppo_continuous_action.py``: GAE(lambda) advantages, a value loss, an entropy bonus, several
epochs of minibatch updates on each batch of vectorised rollouts, observation normalisation (in the loop, see
``rl/loop.py``), optional KL early stop, and an optional BC regulariser for BC→RL fine-tuning.

    r_t(theta) = pi_theta(a_t | s_t) / pi_old(a_t | s_t)
    L^CLIP     = E_t[ min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t) ]                           (paper eq. 7)
    loss       = -L^CLIP + c_v * E_t[(V(s_t) - R_t)^2] / 2 - c_e * E_t[H(pi(.|s_t))] (+ c_bc * L_BC)   (eq. 9)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from imitlab.core.errors import InvalidInputError
from imitlab.rl.algorithm import Algorithm, register_algo
from imitlab.rl.config import PGConfig
from imitlab.rl.estimators import gae
from imitlab.rl.sampling import Batch


@dataclass(frozen=True)
class PPOConfig(PGConfig):
    gae_lambda: float = 0.95  # GAE lambda: 0 = one-step TD advantage, 1 = Monte-Carlo
    update_epochs: int = 10  # passes over each batch
    minibatch_size: int = 64  # steps per gradient step
    clip_coef: float = 0.2  # epsilon of the clipped ratio
    vf_coef: float = 0.5  # value-loss weight c_v
    ent_coef: float = 0.0  # entropy-bonus weight c_e
    max_grad_norm: float = 0.5  # global gradient-norm clip (0 = off)
    normalize_advantages: bool = True  # standardise A within each minibatch
    target_kl: float = 0.0  # stop this batch's epochs once the approximate KL exceeds it (0 = never)
    anneal_lr: bool = True  # decay the learning rate linearly to 0 over the run's steps
    critic_warmup: int = 0  # first batches train the critic only (a pretrained actor is not moved by a random V)
    actor_lr: float = 0.0  # the actor's (mean, log-std) learning rate when it differs from the critic's lr; 0 = lr
    log_std_lr: float = 0.0  # the log-std's own learning rate when it differs from the actor's; 0 = actor's

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise InvalidInputError(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        if self.update_epochs < 1 or self.minibatch_size < 1:
            raise InvalidInputError(
                f"update_epochs and minibatch_size must be >= 1, got {self.update_epochs}, {self.minibatch_size}"
            )
        if self.actor_lr < 0 or self.log_std_lr < 0:
            raise InvalidInputError(
                f"actor_lr and log_std_lr must be >= 0 (0 = inherited), got {self.actor_lr}, {self.log_std_lr}"
            )
        if self.clip_coef <= 0 or self.target_kl < 0:
            raise InvalidInputError(f"clip_coef must be > 0 and target_kl >= 0, got {self.clip_coef}, {self.target_kl}")


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, clip_coef: float):
    """PPO's policy loss -L^CLIP (eq. 7) for (B,) tensors, plus diagnostics: (loss, clip fraction, approx KL).

    The approximate KL(old || new) is the k3 estimator E[(r - 1) - log r] (unbiased, never negative)."""
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip_coef, 1 + clip_coef)).mean()
    with torch.no_grad():
        clipfrac = ((ratio - 1).abs() > clip_coef).float().mean()
        approx_kl = ((ratio - 1) - log_ratio).mean()
    return loss, float(clipfrac), float(approx_kl)


@register_algo
class PPO(Algorithm):
    name = "ppo"
    config_class = PPOConfig
    config: PPOConfig
    # fine-tuning a bc network: the fresh critic learns alone for 4 batches, the mean moves 20x slower than the
    # critic while the exploration noise shrinks at the critic's rate, and sampled actions centre on the mean
    # clamped into the bounds (docs/rl.md, BC->RL)
    init_defaults = {
        **Algorithm.init_defaults,
        "critic_warmup": 4,
        "actor_lr": 5e-5,
        "log_std_lr": 1e-3,
        "clamp_mean": True,
    }

    def __init__(self, policy, config: PPOConfig, bc_data=None):
        super().__init__(policy, config, bc_data)
        critic = list(policy.value_net.parameters())
        log_std = [p for name, p in policy.named_parameters() if config.log_std_lr and name.startswith("log_std")]
        apart = {id(p) for p in critic + log_std}
        actor = [p for p in policy.parameters() if id(p) not in apart]
        actor_lr = config.actor_lr or config.lr
        groups = [{"params": actor, "lr": actor_lr}, {"params": critic, "lr": config.lr}]
        if log_std:
            groups.append({"params": log_std, "lr": config.log_std_lr})
        self.optimizer = torch.optim.Adam(groups, eps=1e-5)
        self.initial_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.updates = 0

    def update(self, batch: Batch, progress: float, generator: torch.Generator) -> dict[str, float]:
        c, policy = self.config, self.policy
        alive = batch.alive
        with torch.no_grad():
            value = policy.value(batch.obs.flatten(0, 1)).view(alive.shape).numpy()
            last_value = policy.value(torch.from_numpy(batch.rollout.final_obs)).numpy()
        last_value = np.where(batch.rollout.terminated, 0.0, last_value)  # V(s_T) only after a time limit
        adv = gae(batch.rollout.reward * c.reward_scale, value, alive, last_value, c.gamma, c.gae_lambda)
        ret = adv + value  # lambda-return: the critic's regression target
        mask = torch.from_numpy(alive)
        obs, u, old_logp = batch.obs[mask], batch.u[mask], batch.logp[mask]
        adv_t = torch.as_tensor(adv[alive], dtype=torch.float32)
        ret_t = torch.as_tensor(ret[alive], dtype=torch.float32)
        if c.anneal_lr:
            for group, initial in zip(self.optimizer.param_groups, self.initial_lrs):
                group["lr"] = initial * max(0.0, 1.0 - progress)

        policy.train()
        actor_weight = 0.0 if self.updates < c.critic_warmup else 1.0
        self.updates += 1
        stats: dict[str, list[float]] = {
            "pg_loss": [],
            "value_loss": [],
            "entropy": [],
            "clipfrac": [],
            "approx_kl": [],
        }
        epochs = 0
        for _ in range(c.update_epochs):
            epochs += 1
            for idx in torch.randperm(len(obs), generator=generator).split(c.minibatch_size):
                logp, entropy = policy.log_prob_entropy(obs[idx], u[idx])
                a = adv_t[idx]
                if c.normalize_advantages and len(idx) > 1:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pg_loss, clipfrac, approx_kl = clipped_surrogate(logp, old_logp[idx], a, c.clip_coef)
                value_loss = 0.5 * ((policy.value(obs[idx]) - ret_t[idx]) ** 2).mean()
                loss = actor_weight * (pg_loss - c.ent_coef * entropy.mean() + self.bc_loss(generator))
                loss = loss + c.vf_coef * value_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if c.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(policy.parameters(), c.max_grad_norm)
                self.optimizer.step()
                for key, val in (
                    ("pg_loss", pg_loss.item()),
                    ("value_loss", value_loss.item()),
                    ("entropy", entropy.mean().item()),
                    ("clipfrac", clipfrac),
                    ("approx_kl", approx_kl),
                ):
                    stats[key].append(val)
            if c.target_kl > 0 and approx_kl > c.target_kl:  # KL early stop (CleanRL checks once per epoch)
                break
        explained = 1.0 - np.var(ret[alive] - value[alive]) / max(np.var(ret[alive]), 1e-8)
        return {
            **{k: float(np.mean(v)) for k, v in stats.items()},
            "epochs": epochs,
            "explained_variance": float(explained),
            "lr": self.optimizer.param_groups[1]["lr"],
            "actor_lr": self.optimizer.param_groups[0]["lr"],
        }

    def state_dict(self):
        return {"optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = state.get("updates", 0)
