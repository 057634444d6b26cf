"""The built-in runtime heads: each kind of head's exported graphs run by its sampling loop (DDIM and DDPM steps,
Euler or midpoint integration, token decoding, mixture draws, z from the prior, classifier-free guidance), the same
loop the eager head runs (``imitlab.sampling.loops``), here on numpy. No torch: the torch-free runtime
(``runtime.py``) runs them. A policy class names the one that samples it (``Policy.runtime_head``)."""

from __future__ import annotations

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
from imitlab.sampling import loops

if TYPE_CHECKING:
    from imitlab.deploy.runtime import DeployedPolicy, Draws

# Each takes the policy, the normalised condition (B, T_obs * obs_dim) and the draws, and returns the normalised
# chunk (B, H, act_dim). They mirror the eager heads' predict_chunk step for step, draws in the same order.


def _mlp(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    return p.run("net", cond=cond)[0].reshape(len(cond), p.horizon, p.act_dim)


def _gmm(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    log_w, means, log_stds = p.run("mixture", cond=cond)
    chosen = loops.draw_from_mixture(log_w, means, log_stds, draws, p.sampler["sample_from_component"])
    return chosen.reshape(len(cond), p.horizon, p.act_dim)


def _network(p: DeployedPolicy, graph: str, cond: np.ndarray, time_scale: float = 1.0) -> loops.Network:
    """A denoiser's graph at this chunk's condition, under classifier-free guidance (``loops.guided``; the null
    condition is all zeros, the "observed" flag included). The U-Net exported as three graphs computes the
    observation's FiLM part here, once for the chunk, and at each step the time's part once for the whole batch
    (N = 1), broadcast-added, then the denoiser on the sum."""
    w = p.sampler["guidance_scale"]
    if p.config.get("cond_dropout", 0.0) > 0:
        cond = np.concatenate([cond, np.ones_like(cond[:, :1])], axis=1)  # the "observed" flag
    if w != 1.0:
        cond = np.concatenate([cond, 0 * cond])  # (2B, cond_dim): observed, then null
    if "condition" not in p.sessions:
        return loops.guided(lambda x, time: p.run(graph, x=x, time=time * time_scale, cond=cond)[0], w)
    film_cond = p.run("condition", cond=cond)[0]  # (B, film rows)

    def network(x: np.ndarray, time: np.ndarray) -> np.ndarray:
        film_time = p.run("time_film", time=time[:1] * time_scale)[0]  # (1, film rows)
        return p.run(graph, x=x, film=film_cond + film_time)[0]

    return loops.guided(network, w)


def _diffusion(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    s = p.sampler
    shape = (len(cond), p.horizon, p.act_dim)
    network = _network(p, "denoiser", cond)
    return loops.denoise(network, draws, shape, s["timesteps"], s["alpha_bars"], s["kind"], s["clip_sample"], s["eta"])


def _flow(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    s = p.sampler
    velocity = _network(p, "velocity", cond, s["time_scale"])
    shape = (len(cond), p.horizon, p.act_dim)
    return loops.integrate_flow(velocity, draws, shape, s["num_inference_steps"], s["integrator"], s["clip_sample"])


def _tokenized(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    """Tokens all at once (parallel) or one at a time, each fed back in (autoregressive); then bin centres."""
    B, L, n_bins = len(cond), p.horizon * p.act_dim, p.config["n_bins"]

    def pick(logits: np.ndarray) -> np.ndarray:
        return loops.pick_tokens(logits, p.sampler["temperature"], draws)

    if p.sampler["autoregressive"]:  # the graph takes (B, L - 1) tokens; position i's logits see those < i only
        window = max(L - 1, 1)
        next_logits = lambda tokens, i: p.run("decoder", cond=cond, tokens=tokens[:, :window])[0][:, i]  # noqa: E731
        tokens = loops.decode_tokens(next_logits, B, L, cond, pick)
    else:
        tokens = pick(p.run("logits", cond=cond)[0])  # (B, L)
    return loops.token_centres(tokens, n_bins).reshape(B, p.horizon, p.act_dim)


def _act(p: DeployedPolicy, cond: np.ndarray, draws: Draws) -> np.ndarray:
    z = loops.cvae_latent(draws, (len(cond), p.config["latent_dim"]), p.sampler["inference_z"], cond)
    return p.run("decoder", cond=cond, z=z)[0]


GUIDANCE = {"guidance_scale": float}
for runtime_head in (
    RuntimeHead("mlp", mlp_graphs, _mlp),
    RuntimeHead("gmm", gmm_graphs, _gmm, {"sample_from_component": bool}),
    RuntimeHead(
        "diffusion",
        partial(denoiser_graphs, output="denoiser"),
        _diffusion,
        {
            "kind": {"ddim", "ddpm"},
            "timesteps": list,
            "alpha_bars": list,
            "clip_sample": (float, type(None)),
            "eta": float,
            **GUIDANCE,
        },
    ),
    RuntimeHead(
        "flow",
        partial(denoiser_graphs, output="velocity"),
        _flow,
        {
            "num_inference_steps": int,
            "integrator": {"euler", "midpoint"},
            "time_scale": float,
            "clip_sample": bool,
            **GUIDANCE,
        },
    ),
    RuntimeHead("tokenized", tokenized_graphs, _tokenized, {"temperature": float, "autoregressive": bool}),
    RuntimeHead("act", act_graphs, _act, {"inference_z": {"zero", "prior"}}),
):
    register_runtime_head(runtime_head)
