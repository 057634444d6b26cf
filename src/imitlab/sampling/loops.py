"""Each head's sampling loop, once, for torch tensors and numpy arrays alike (the Python array API through
array-api-compat): the eager policy passes its torch networks and a torch generator's draws, the deployed runtime
its ONNX graphs and numpy draws, and both get the same chunk for the same draws.

A loop takes the networks as callables on arrays, and ``draws``: an object with ``normal(shape)`` (N(0, I) noise)
and ``categorical(probs (N, K))`` (one index per row), the only sources of randomness, called in a fixed order.
Chunks are in normalised units, (B, H, act_dim).

Papers: Ho et al. 2020 (DDPM eqs. 7, 15), Song et al. 2021 (DDIM eqs. 12, 16), Ho & Salimans 2022 (classifier-free
guidance eq. 6), Lipman et al. 2023 (flow matching, Euler steps), Zhao et al. 2023 (ACT, Alg. 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from array_api_compat import array_namespace, device

Array = Any  # a torch tensor or a numpy array
# a denoising network at one step: x (B, H, act_dim) and the step's time (B,) -> (B, H, act_dim)
Network = Callable[[Array, Array], Array]


class Draws(Protocol):
    """The random draws a sampling loop takes, in the order it takes them."""

    def normal(self, shape: tuple[int, ...]) -> Array:
        """N(0, I) noise of ``shape``, float32."""

    def categorical(self, probs: Array) -> Array:
        """One index per row of probs (N, K) (rows need not sum exactly to 1) -> (N,) int64."""


def guided(network: Network, guidance_scale: float) -> Network:
    """``network`` under classifier-free guidance: out_null + w (out_cond - out_null), one batched call for both.
    With w != 1, ``network`` must hold the condition twice (observed rows, then the null condition's)."""
    if guidance_scale == 1.0:
        return network

    def both(x: Array, time: Array) -> Array:
        xp = array_namespace(x)
        out = network(xp.concat([x, x]), xp.concat([time, time]))
        conditional, unconditional = out[: x.shape[0], ...], out[x.shape[0] :, ...]
        return unconditional + guidance_scale * (conditional - unconditional)

    return both


def denoise(
    network: Network,
    draws: Draws,
    shape: tuple[int, int, int],
    timesteps: Sequence[int],
    alpha_bars: Sequence[float],
    kind: str,
    clip_sample: float | None,
    eta: float = 0.0,
) -> Array:
    """Diffusion: x ~ N(0, I), then one DDIM (``kind`` "ddim") or DDPM ("ddpm") step per timestep (descending).
    ``network`` predicts the noise eps; ``alpha_bars`` (N,) are the training schedule's cumulative alphas."""

    x = draws.normal(shape)
    xp = array_namespace(x)
    for i, t in enumerate(timesteps):
        prev = int(timesteps[i + 1]) if i + 1 < len(timesteps) else -1
        eps = network(x, xp.full((shape[0],), float(t), dtype=x.dtype, device=device(x)))
        x = denoise_step(x, eps, int(t), prev, alpha_bars, kind, clip_sample, eta, draws)
    return x


def denoise_step(
    x: Array,
    eps: Array,
    t: int,
    prev: int,
    alpha_bars: Sequence[float],
    kind: str,
    clip_sample: float | None,
    eta: float,
    draws: Draws,
) -> Array:
    """One reverse step from x_t to x_prev (prev = -1: the clean sample) given the predicted noise ``eps``, both
    (B, ...): DDIM (``kind`` "ddim", Song et al. eq. 12; eta = 0 deterministic, 1 the DDPM variance) or DDPM
    ("ddpm", Ho et al. eq. 7; with skipped steps beta_t is the stretch's 1 - alpha_bar_t / alpha_bar_prev)."""
    xp = array_namespace(x)
    ab_t = float(alpha_bars[t])
    ab_prev = 1.0 if prev < 0 else float(alpha_bars[prev])
    x0 = (x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)  # Ho et al. eq. 15, solved for x_0
    if clip_sample is not None:
        x0 = xp.clip(x0, -clip_sample, clip_sample)
    if kind == "ddim":
        eps = (x - math.sqrt(ab_t) * x0) / math.sqrt(1 - ab_t)  # the eps the clipped x_0 implies
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))  # DDIM eq. 16
        x = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma**2, 0.0)) * eps  # DDIM eq. 12
        if sigma > 0:
            x = x + sigma * draws.normal(tuple(x.shape))
        return x
    # DDPM eq. 7: the posterior mean, plus its variance's noise before the last step
    alpha_t = ab_t / ab_prev
    beta_t = 1 - alpha_t
    x = (math.sqrt(ab_prev) * beta_t / (1 - ab_t)) * x0 + (math.sqrt(alpha_t) * (1 - ab_prev) / (1 - ab_t)) * x
    if prev >= 0:
        x = x + math.sqrt((1 - ab_prev) / (1 - ab_t) * beta_t) * draws.normal(tuple(x.shape))
    return x


def integrate_flow(
    velocity: Network, draws: Draws, shape: tuple[int, int, int], steps: int, integrator: str, clip_sample: bool
) -> Array:
    """Flow matching: x_0 ~ N(0, I) at t = 0, integrated to t = 1 with Euler or midpoint steps of the velocity
    v(x_t, t) (t in [0, 1]), then clipped to [-1, 1] when ``clip_sample``."""
    x = draws.normal(shape)
    xp = array_namespace(x)
    dt = 1.0 / steps
    for i in range(steps):
        t = xp.full((shape[0],), i * dt, dtype=x.dtype, device=device(x))
        v = velocity(x, t)
        if integrator == "midpoint":  # x_{t+dt} = x_t + dt v(x_t + dt/2 v(x_t, t), t + dt/2)
            v = velocity(x + 0.5 * dt * v, t + 0.5 * dt)
        x = x + dt * v  # Euler: x_{t+dt} = x_t + dt v(x_t, t)
    return xp.clip(x, -1.0, 1.0) if clip_sample else x


def draw_from_mixture(
    log_weights: Array, means: Array, log_stds: Array, draws: Draws, sample_from_component: bool
) -> Array:
    """A Gaussian mixture's sample: k ~ softmax(w) per row, then component k's mean, or a draw from N(mu_k,
    sigma_k^2). log_weights (B, K), means and log_stds (B, K, D) -> (B, D)."""
    xp = array_namespace(means)
    B, _, D = means.shape
    k = draws.categorical(xp.exp(log_weights))  # (B,)
    index = xp.broadcast_to(xp.reshape(k, (B, 1, 1)), (B, 1, D))
    chosen = xp.reshape(xp.take_along_axis(means, index, axis=1), (B, D))
    if sample_from_component:
        std = xp.exp(xp.reshape(xp.take_along_axis(log_stds, index, axis=1), (B, D)))
        chosen = chosen + std * draws.normal((B, D))
    return chosen


def pick_tokens(logits: Array, temperature: float, draws: Draws) -> Array:
    """logits (..., n_bins) -> tokens (...): argmax at temperature 0, else a draw from softmax(logits / T)."""
    xp = array_namespace(logits)
    if temperature == 0:
        return xp.argmax(logits, axis=-1)
    z = logits / temperature
    probs = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    probs = probs / xp.sum(probs, axis=-1, keepdims=True)
    return xp.reshape(draws.categorical(xp.reshape(probs, (-1, probs.shape[-1]))), logits.shape[:-1])


def decode_tokens(
    next_logits: Callable[[Array, int], Array], batch: int, length: int, like: Array, pick: Callable[[Array], Array]
) -> Array:
    """Autoregressive decoding: token i drawn from ``next_logits(tokens, i)`` (B, n_bins), the logits at position
    i given tokens[:, :i], and fed back in. ``like``: an array of the caller's library and device. -> (B, L) int64."""
    xp = array_namespace(like)
    tokens = xp.zeros((batch, length), dtype=xp.int64, device=device(like))
    for i in range(length):
        tokens[:, i] = pick(next_logits(tokens, i))
    return tokens


def token_centres(tokens: Array, n_bins: int) -> Array:
    """Bin indices (any shape) -> the bin centres -1 + (k + 1/2) * 2 / n_bins, in normalised units (float32)."""
    xp = array_namespace(tokens)
    return -1.0 + (xp.astype(tokens, xp.float32) + 0.5) * (2.0 / n_bins)


def cvae_latent(draws: Draws, shape: tuple[int, int], inference_z: str, like: Array) -> Array:
    """ACT's latent at inference: z = 0, the prior mean (ACT Alg. 2), or z drawn from the prior N(0, I)."""
    if inference_z == "zero":
        xp = array_namespace(like)
        return xp.zeros(shape, dtype=xp.float32, device=device(like))
    return draws.normal(shape)
