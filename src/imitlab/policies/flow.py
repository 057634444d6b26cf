"""Flow-matching action head (Lipman et al. 2023 "Flow Matching for Generative Modeling"; Liu et al. 2023
"Flow Straight and Fast" (rectified flow); the action expert of Black et al. 2024 "pi0").

A velocity field v_theta(x_t, t, obs) carries noise (t = 0) to the action chunk (t = 1) along straight lines:
    x_0 ~ N(0, I) (noise),  x_1 = normalised action chunk (B, H, act_dim),  t ~ p(t) on [0, 1]
    x_t = (1 - t) x_0 + t x_1                                  (the conditional "OT" path, Lipman et al. eq. 20)
    L   = || v_theta(x_t, t, obs) - (x_1 - x_0) ||^2           (conditional flow matching, Lipman et al. eq. 23)
averaged over the non-padded steps. Sampling integrates dx/dt = v_theta from t = 0 to 1 with
``num_inference_steps`` Euler or midpoint steps. The denoiser networks are those of the diffusion head; the
time input is t * time_scale so the sinusoidal embedding sees the same range of values as diffusion steps.
Classifier-free guidance (``cond_dropout``, ``guidance_scale``) combines velocities as diffusion combines noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import Observation, masked_mean, register_policy
from imitlab.policies.denoisers import DenoiserConfig, DenoisingPolicy, build_denoiser, hold_last_valid_action
from imitlab.policies.draws import TorchDraws
from imitlab.sampling import loops

PI0_BETA_S = 0.999  # pi0's cut-off: t is sampled in [0, s], never exactly 1 (the clean chunk)


@dataclass(frozen=True)
class FlowConfig(DenoiserConfig):
    """Flow matching. Network fields (backbone, down_dims, ...) come from ``DenoiserConfig``."""

    # --- chunking ---
    n_obs_steps: int = 2  # T_obs
    horizon: int = 16  # H
    n_action_steps: int = 8  # executed per chunk
    # --- sampling: integrating the learned velocity from noise (t = 0) to actions (t = 1) ---
    num_inference_steps: int = 10  # integration steps from t = 0 to 1
    integrator: str = "euler"  # "euler" (1 network call per step) or "midpoint" (2 calls per step)
    # --- training ---
    time_sampling: str = "uniform"  # p(t): "uniform" on [0, 1] or "beta" (pi0: more weight near noise)
    time_scale: float = 1000.0  # the network sees t * time_scale in its sinusoidal embedding

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_inference_steps < 1:
            raise InvalidInputError(f"num_inference_steps must be >= 1, got {self.num_inference_steps}")
        if self.integrator not in ("euler", "midpoint"):
            raise InvalidInputError(f"integrator must be 'euler' or 'midpoint', got {self.integrator!r}")
        if self.time_sampling not in ("uniform", "beta"):
            raise InvalidInputError(f"time_sampling must be 'uniform' or 'beta', got {self.time_sampling!r}")
        if self.time_scale <= 0:
            raise InvalidInputError(f"time_scale must be > 0, got {self.time_scale}")


@register_policy
class FlowPolicy(DenoisingPolicy):
    name = "flow"
    config_class = FlowConfig
    step_milliseconds = 85.0
    runtime_head = "flow"

    def __init__(self, config: FlowConfig, stats: dict[str, dict[str, Any]]):
        super().__init__(config, stats)
        self.config: FlowConfig = config
        self.velocity = build_denoiser(config, self.cond_dim)  # v_theta(x_t, t * time_scale, obs)

    def _velocity(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, H, act_dim), t: (B,) in [0, 1], cond: (B, cond_dim) -> velocity (B, H, act_dim)."""
        velocity: torch.Tensor = self.velocity(x, t * self.config.time_scale, cond)
        return velocity

    def _sample_time(self, B: int, device: torch.device) -> torch.Tensor:
        """t (B,) from p(t). "beta": pi0's t = s (1 - u), u ~ Beta(1.5, 1), by inverse CDF u = v^(2/3)."""
        v = torch.rand(B, device=device)
        if self.config.time_sampling == "uniform":
            return v
        return PI0_BETA_S * (1 - v ** (2 / 3))

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        action, is_pad = self.chunk_targets(batch)
        B = action.shape[0]
        cond = self._training_condition(batch[keys.OBS])
        x1 = self.action_normalizer.normalize(hold_last_valid_action(action, is_pad))  # data, (B, H, act_dim)
        x0 = torch.randn_like(x1)  # noise
        t = self._sample_time(B, x1.device)
        tb = t[:, None, None]
        x_t = (1 - tb) * x0 + tb * x1  # Lipman et al. eq. 20 with sigma_min = 0 (rectified flow)
        loss = masked_mean((self._velocity(x_t, t, cond) - (x1 - x0)) ** 2, is_pad)  # Lipman et al. eq. 23
        return loss, {"loss": float(loss.detach())}

    @torch.no_grad()
    def predict_chunk(self, obs: Observation, generator: torch.Generator | None = None) -> torch.Tensor:
        cfg = self.config
        cond = self._condition(obs)
        x = loops.integrate_flow(  # the loop the deployed runtime runs too
            self._guided_network(self._velocity, cond),
            TorchDraws(generator, cond.device, cond.dtype),
            (cond.shape[0], cfg.horizon, cfg.act_dim),
            cfg.num_inference_steps,
            cfg.integrator,
            cfg.clip_sample,
        )
        return self.action_normalizer.unnormalize(x)

    def export_graphs(self) -> dict[str, Callable[..., Any]]:
        return {"velocity": self.velocity}

    def sampler_settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "num_inference_steps": c.num_inference_steps,
            "integrator": c.integrator,
            "time_scale": c.time_scale,
            "clip_sample": c.clip_sample,
            "guidance_scale": c.guidance_scale,
        }
