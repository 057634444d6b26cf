"""The settings every policy-gradient algorithm shares; each algorithm's config dataclass extends them."""

from __future__ import annotations

from dataclasses import dataclass

from imitlab.core.errors import InvalidInputError
from imitlab.core.fields import check_field_types


@dataclass(frozen=True)
class PGConfig:
    """Settings every policy-gradient algorithm shares; each algorithm's config adds its own."""

    num_envs: int = 16  # episodes collected per iteration (one per sub-env, in lock-step)
    gamma: float = 0.99  # discount
    lr: float = 3e-4  # Adam learning rate of the actor and, in PPO, of the critic (PPO's actor_lr can differ)
    reward_scale: float = 1.0  # rewards are multiplied by this before any return is computed
    normalize_obs: bool = True  # running mean/std of observations (off when initialised from a bc run)
    hidden_dim: int = 64  # actor and critic width (a bc init keeps the bc network's)
    num_layers: int = 2  # actor and critic hidden layers (a bc init keeps the bc network's)
    activation: str = "tanh"  # "tanh" or "relu" (a bc init uses relu, as bc)
    log_std: str = "state_independent"  # Gaussian log-std: "state_independent" or "state_dependent"
    init_log_std: float = 0.0  # initial log std in normalised action units
    # Gaussian: centre the distribution at the mean clamped into the action bounds, gradients passing straight
    # through (BC→RL: where a bc network's mean lies far outside the bounds, every sampled action is clipped to the
    # same bound, so PPO gets no signal there; the env clips actions anyway, so the deterministic policy is the same)
    clamp_mean: bool = False
    bc_coef: float = 0.0  # BC→RL: weight of the BC loss on the init run's demonstrations (0 = off)
    bc_batch_size: int = 256  # demonstration frames per BC-regulariser term
    eval_every: int = 10_000  # environment steps between evaluations (deterministic actions)
    eval_episodes: int = 20  # episodes per periodic evaluation (the final one uses 100)
    save_every: int = 10  # iterations between checkpoints (a final one is always written)

    def __post_init__(self) -> None:
        check_field_types(self)  # of every field, a subclass's too
        for name in (
            "num_envs",
            "hidden_dim",
            "num_layers",
            "bc_batch_size",
            "eval_every",
            "eval_episodes",
            "save_every",
        ):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma <= 1.0:
            raise InvalidInputError(f"gamma must be in (0, 1], got {self.gamma}")
        if self.lr <= 0 or self.reward_scale <= 0 or self.bc_coef < 0:
            raise InvalidInputError(
                f"lr and reward_scale must be > 0 and bc_coef >= 0, got {self.lr}, {self.reward_scale}, {self.bc_coef}"
            )
