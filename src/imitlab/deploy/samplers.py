"""The built-in runtime heads: each kind of head's sampling loop in numpy, on the graphs it exports (DDIM and DDPM
steps, Euler or midpoint integration, token decoding, mixture draws, z from the prior), with classifier-free
guidance. No torch: the torch-free runtime (``runtime.py``) runs them. A policy class names the one that samples it
(``Policy.runtime_head``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from imitlab.deploy.manifest import (
    RuntimeHead,
    act_graphs,
    denoiser_graphs,
    gmm_graphs,
    mlp_graphs,
    register_runtime_head,
    tokenized_graphs,
)

if TYPE_CHECKING:
    from imitlab.deploy.runtime import DeployedPolicy, Draws

# Each takes the policy, the normalised condition (B, T_obs * obs_dim) and the draws, and returns the normalised
# chunk (B, H, act_dim). They mirror the eager heads' predict_chunk step for step, draws in the same order.


def _mlp(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    return p.run("net", cond=cond)[0].reshape(len(cond), p.horizon, p.act_dim)


def _gmm(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    """k ~ softmax(w), then the component's mean, or a draw from N(mu_k, sigma_k^2)."""
    log_w, means, log_stds = p.run("mixture", cond=cond)
    rows = np.arange(len(cond))
    k = draws.categorical(np.exp(log_w))  # (B,)
    chosen = means[rows, k]  # (B, D)
    if p.sampler["sample_from_component"]:
        chosen = chosen + np.exp(log_stds[rows, k]) * draws.normal(chosen.shape)
    return chosen.reshape(len(cond), p.horizon, p.act_dim)


Network = Callable[[np.ndarray, np.floating], np.ndarray]  # (x (B, H, act_dim), the step's time) -> (B, H, act_dim)


def _plain_network(p: DeployedPolicy, graph: str, cond: np.ndarray) -> Network:
    """A denoiser exported as one graph (x, time (B,), cond) -> out."""
    return lambda x, time: p.run(graph, x=x, time=np.full(len(x), time, np.float32), cond=cond)[0]


def _film_network(p: DeployedPolicy, graph: str, cond: np.ndarray) -> Network:
    """The U-Net exported as three graphs: the observation's FiLM part computed here, once for the chunk; at each
    step the time's part once for the whole batch (N = 1), broadcast-added, and the denoiser on the sum."""
    film_cond = p.run("condition", cond=cond)[0]  # (B, film rows)

    def network(x: np.ndarray, time: np.floating) -> np.ndarray:
        film_time = p.run("time_film", time=np.full(1, time, np.float32))[0]  # (1, film rows)
        return p.run(graph, x=x, film=film_cond + film_time)[0]

    return network


def _guided(p: DeployedPolicy, graph: str, cond: np.ndarray) -> Network:
    """The head's network for one chunk under classifier-free guidance: out_null + w (out_cond - out_null), one
    batched call for both; the null condition is all zeros (the "observed" flag included)."""
    w = p.sampler["guidance_scale"]
    if p.config.get("cond_dropout", 0.0) > 0:
        cond = np.concatenate([cond, np.ones_like(cond[:, :1])], axis=1)  # the "observed" flag
    if w != 1.0:
        cond = np.concatenate([cond, 0 * cond])  # (2B, cond_dim): observed, then null
    network = (_film_network if "condition" in p.sessions else _plain_network)(p, graph, cond)
    if w == 1.0:
        return network

    def guided(x: np.ndarray, time: np.floating) -> np.ndarray:
        conditional, unconditional = np.split(network(np.concatenate([x, x]), time), 2)
        return unconditional + w * (conditional - unconditional)

    return guided


def _diffusion(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    """x_{N-1} ~ N(0, I), then one DDIM (Song et al. eq. 12) or DDPM (Ho et al. eq. 7) step per timestep."""
    s = p.sampler
    B, steps, clip = len(cond), s["timesteps"], s["clip_sample"]
    denoiser = _guided(p, "denoiser", cond)

    def alpha_bar(t: int) -> float:
        return 1.0 if t < 0 else s["alpha_bars"][t]

    x = draws.normal((B, p.horizon, p.act_dim))
    for i, t in enumerate(steps):
        prev = steps[i + 1] if i + 1 < len(steps) else -1
        eps = denoiser(x, np.float32(t))
        ab_t, ab_prev = alpha_bar(t), alpha_bar(prev)
        x0 = (x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)  # Ho et al. eq. 15, solved for x_0
        if clip is not None:
            x0 = np.clip(x0, -clip, clip)
        if s["kind"] == "ddim":
            eps = (x - math.sqrt(ab_t) * x0) / math.sqrt(1 - ab_t)  # the eps the clipped x_0 implies
            sigma = s["eta"] * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))  # DDIM eq. 16
            x = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma**2, 0.0)) * eps  # DDIM eq. 12
            if sigma > 0:
                x = x + sigma * draws.normal(x.shape)
        else:  # DDPM eq. 7: the posterior mean, plus its variance's noise before the last step
            alpha_t = ab_t / ab_prev
            beta_t = 1 - alpha_t
            x = (math.sqrt(ab_prev) * beta_t / (1 - ab_t)) * x0 + (math.sqrt(alpha_t) * (1 - ab_prev) / (1 - ab_t)) * x
            if prev >= 0:
                x = x + math.sqrt((1 - ab_prev) / (1 - ab_t) * beta_t) * draws.normal(x.shape)
    return x


def _flow(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    """x_0 ~ N(0, I) at t = 0, integrated to t = 1 with Euler or midpoint steps, then clipped to [-1, 1]."""
    s = p.sampler
    B, n, scale = len(cond), s["num_inference_steps"], s["time_scale"]
    velocity = _guided(p, "velocity", cond)
    x = draws.normal((B, p.horizon, p.act_dim))
    dt = 1.0 / n
    for i in range(n):
        t = np.float32(i * dt)  # float32 as eager's time tensor, then scaled in float32
        v = velocity(x, t * scale)
        if s["integrator"] == "midpoint":
            v = velocity(x + 0.5 * dt * v, (t + 0.5 * dt) * scale)
        x = x + dt * v
    return np.clip(x, -1.0, 1.0) if s["clip_sample"] else x


def _pick(p: DeployedPolicy, logits: np.ndarray, draws: Draws) -> np.ndarray:
    """logits (..., n_bins) -> tokens (...): argmax at temperature 0, else a draw from softmax(logits / T)."""
    temperature = p.sampler["temperature"]
    if temperature == 0:
        return logits.argmax(-1)
    z = logits / np.float32(temperature)
    probs = np.exp(z - z.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return draws.categorical(probs.reshape(-1, probs.shape[-1])).reshape(logits.shape[:-1])


def _tokenized(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    """Tokens all at once (parallel) or one at a time, each fed back in (autoregressive); then bin centres."""
    B, L, n_bins = len(cond), p.horizon * p.act_dim, p.config["n_bins"]
    if p.sampler["autoregressive"]:
        tokens = np.zeros((B, L), np.int64)
        for i in range(L):
            logits = p.run("decoder", cond=cond, tokens=tokens[:, : max(L - 1, 1)])[0][:, i]  # (B, n_bins)
            tokens[:, i] = _pick(p, logits, draws)
    else:
        tokens = _pick(p, p.run("logits", cond=cond)[0], draws)  # (B, L)
    centres = -1.0 + (tokens.astype(np.float32) + 0.5) * np.float32(2.0 / n_bins)
    return centres.reshape(B, p.horizon, p.act_dim)


def _act(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    """The CVAE decoder at z = 0 (ACT Alg. 2) or at z drawn from the prior N(0, I)."""
    shape = (len(cond), p.config["latent_dim"])
    z = np.zeros(shape, np.float32) if p.sampler["inference_z"] == "zero" else draws.normal(shape)
    return p.run("decoder", cond=cond, z=z)[0]


for runtime_head in (
    RuntimeHead("mlp", mlp_graphs, _mlp),
    RuntimeHead("gmm", gmm_graphs, _gmm),
    RuntimeHead("diffusion", partial(denoiser_graphs, output="denoiser"), _diffusion),
    RuntimeHead("flow", partial(denoiser_graphs, output="velocity"), _flow),
    RuntimeHead("tokenized", tokenized_graphs, _tokenized),
    RuntimeHead("act", act_graphs, _act),
):
    register_runtime_head(runtime_head)
