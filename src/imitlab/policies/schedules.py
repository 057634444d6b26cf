"""Noise schedules and samplers for denoising diffusion, as small diffusers-style objects.

``NoiseSchedule`` holds beta_t and alpha_bar_t for the N training steps and noises clean samples (forward
process). ``DDPMSampler`` and ``DDIMSampler`` run the reverse process over any subset of ``n <= N`` steps:
``set_timesteps(n)`` picks the steps, ``step(eps, t, x_t, generator)`` moves one of them.

Papers: Ho et al. 2020 "Denoising Diffusion Probabilistic Models" (DDPM, eqs. 4, 7, 15);
Song et al. 2021 "Denoising Diffusion Implicit Models" (DDIM, eq. 12); Nichol & Dhariwal 2021 "Improved
DDPM" (squared-cosine schedule, eq. 17); Lin et al. 2024 "Common Diffusion Noise Schedules and Sample Steps
are Flawed" ("trailing" timestep spacing, so sampling starts at the last, pure-noise step).

All schedule arithmetic is done in float64 and cast to the sample's dtype at the end.
"""

from __future__ import annotations

import math

import torch

from imitlab.core.errors import InvalidInputError
from imitlab.policies.draws import TorchDraws
from imitlab.sampling import loops

BETA_SCHEDULES = ("squared_cosine", "linear")


def squared_cosine_betas(num_train_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal eq. 17: alpha_bar(t) = f(t)/f(0), f(t) = cos²(π/2 · (t/N + s)/(1 + s));
    beta_t = 1 - alpha_bar(t+1)/alpha_bar(t), capped at ``max_beta`` (the last step would be 1). (N,) float64."""

    def f(t: float) -> float:
        return math.cos((t / num_train_steps + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f(i + 1) / f(i), max_beta) for i in range(num_train_steps)]
    return torch.tensor(betas, dtype=torch.float64)


def linear_betas(num_train_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al.'s schedule: beta linear from ``beta_start`` to ``beta_end``. (N,) float64. Made for N=1000;
    over N=100 steps it ends at alpha_bar ≈ 0.37, which is far from pure noise."""
    return torch.linspace(beta_start, beta_end, num_train_steps, dtype=torch.float64)


def _gather(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] broadcast against ``like`` (B, ...): t is (B,) long, result (B, 1, ..., 1) in like.dtype."""
    out = values.to(like.device)[t].to(like.dtype)
    return out.reshape(-1, *([1] * (like.ndim - 1)))


class NoiseSchedule:
    """beta_t, alpha_t = 1 - beta_t and alpha_bar_t = prod_{s<=t} alpha_s for t = 0..N-1 (the paper's 1..N)."""

    def __init__(self, num_train_steps: int = 100, beta_schedule: str = "squared_cosine"):
        if num_train_steps < 1:
            raise InvalidInputError(f"num_train_steps must be >= 1, got {num_train_steps}")
        if beta_schedule == "squared_cosine":
            self.betas = squared_cosine_betas(num_train_steps)
        elif beta_schedule == "linear":
            self.betas = linear_betas(num_train_steps)
        else:
            raise InvalidInputError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {beta_schedule!r}")
        self.num_train_steps = num_train_steps
        self.alphas = 1.0 - self.betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)  # (N,) float64

    def alpha_bar(self, t: int) -> float:
        """alpha_bar_t as a float; t = -1 means "before the first step": the clean sample, alpha_bar = 1."""
        return 1.0 if t < 0 else float(self.alpha_bars[t])

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """DDPM eq. 4, q(x_t | x_0): x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.
        x0, noise: (B, ...); t: (B,) long in [0, N). Returns x_t (B, ...)."""
        assert x0.shape == noise.shape, f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} differ"
        assert t.shape == (x0.shape[0],), f"t must be (B={x0.shape[0]},), got {tuple(t.shape)}"
        ab = _gather(self.alpha_bars, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


class _Sampler:
    """Shared by DDPM and DDIM: the timestep subset, and one step of the reverse process (``step``), which is
    ``sampling.loops.denoise_step``: the same code the policies' and the deployed runtime's loops run."""

    kind: str  # "ddpm" or "ddim"
    eta = 1.0  # DDIM's noise scale; DDPM's posterior variance is eta = 1's

    def __init__(self, schedule: NoiseSchedule, clip_sample: float | None = 1.0):
        self.schedule = schedule
        self.clip_sample = clip_sample  # predicted x_0 is clipped to [-c, c]; None disables clipping
        self.set_timesteps(schedule.num_train_steps)

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Pick n of the N training steps, "trailing" spacing: t_i = floor(N (n - i) / n) - 1, i = 0..n-1.
        The first is always N-1 (pure noise), n = N gives every step, and steps are strictly decreasing."""
        n, big_n = num_inference_steps, self.schedule.num_train_steps
        if not 1 <= n <= big_n:
            raise InvalidInputError(f"num_inference_steps must be in [1, {big_n}] (the training steps), got {n}")
        steps = [(big_n * (n - i)) // n - 1 for i in range(n)]
        self.timesteps = torch.tensor(steps, dtype=torch.long)  # (n,) descending
        self._prev = dict(zip(steps, steps[1:] + [-1]))  # t -> the step the sampler goes to (-1: clean)

    def previous_timestep(self, t: int) -> int:
        return self._prev[int(t)]

    def step(
        self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """eps: predicted noise, x_t: current sample, both (B, ...). Returns x_prev (B, ...)."""
        assert eps.shape == x_t.shape, f"eps {tuple(eps.shape)} and x_t {tuple(x_t.shape)} differ"
        prev = self.previous_timestep(t)
        draws = TorchDraws(generator, x_t.device, x_t.dtype)
        alpha_bars = self.schedule.alpha_bars.tolist()
        x_prev: torch.Tensor = loops.denoise_step(
            x_t, eps, int(t), prev, alpha_bars, self.kind, self.clip_sample, self.eta, draws
        )
        return x_prev


class DDPMSampler(_Sampler):
    """Ancestral sampling from the posterior q(x_prev | x_t, x_0) (DDPM eqs. 6-7). With fewer steps than N,
    beta_t is replaced by the effective 1 - alpha_bar_t / alpha_bar_prev of the skipped stretch."""

    kind = "ddpm"


class DDIMSampler(_Sampler):
    """DDIM (Song et al. eq. 12). eta = 0: deterministic; eta = 1: the DDPM posterior variance."""

    kind = "ddim"

    def __init__(self, schedule: NoiseSchedule, clip_sample: float | None = 1.0, eta: float = 0.0):
        super().__init__(schedule, clip_sample)
        if eta < 0:
            raise InvalidInputError(f"eta must be >= 0, got {eta}")
        self.eta = eta


def make_sampler(sampler: str, schedule: NoiseSchedule, clip_sample: float | None = 1.0, eta: float = 0.0) -> _Sampler:
    """``"ddim"`` or ``"ddpm"`` over ``schedule``."""
    if sampler == "ddim":
        return DDIMSampler(schedule, clip_sample, eta)
    if sampler == "ddpm":
        return DDPMSampler(schedule, clip_sample)
    raise InvalidInputError(f"sampler must be 'ddim' or 'ddpm', got {sampler!r}")
