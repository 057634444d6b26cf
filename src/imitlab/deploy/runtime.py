"""Run an exported policy with numpy and onnxruntime only: no torch, nothing from imitlab that imports it
(an import-linter contract in pyproject keeps it so).

    policy = load("runs/dp-onnx")                                   # deploy.json + the graphs it names
    chunk = policy.predict_chunk(obs_history, np.random.default_rng(0))   # (B, T_obs, obs_dim) -> (B, H, act_dim)
    # a policy with cameras takes a dict: the state history and each camera's frames (B, T_obs, 3, H, W) uint8
    chunk = policy.predict_chunk({"observation.state": obs_history, "observation.images.top": frames}, rng)

The graphs compute the networks, the visual encoder's included (image normalisation and crop inside it); this
module runs what surrounds them: normalising the state history, each head's sampling loop (DDIM and DDPM steps,
Euler or midpoint integration, token decoding, mixture draws, z from the prior), classifier-free guidance, and
un-normalising the chunk. Every random draw goes through a ``Draws`` object: ``NumpyDraws`` over a seeded
``np.random.Generator`` by default, or any object with the same two methods (a test passes torch's draws, in
eager's order, to check parity with the eager policy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from imitlab.core import keys
from imitlab.deploy.manifest import (
    BATCH,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    DeployError,
    cameras,
    graph_signatures,
)

Observation = np.ndarray | Mapping[str, np.ndarray]  # (B, T_obs, obs_dim), or the dict form with cameras


class Draws(Protocol):
    """The random draws a sampling loop takes, in the order it takes them."""

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        """N(0, I) noise of ``shape``, float32."""

    def categorical(self, probs: np.ndarray) -> np.ndarray:
        """One index per row of probs (N, K) (rows need not sum exactly to 1) -> (N,) int64."""


class NumpyDraws:
    """Draws from a numpy generator: normal noise, and categorical draws by inverting the CDF at a uniform."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.rng.standard_normal(shape, dtype=np.float32)

    def categorical(self, probs: np.ndarray) -> np.ndarray:
        cdf = np.cumsum(probs, axis=1, dtype=np.float64)  # (N, K)
        u = self.rng.random((len(cdf), 1)) * cdf[:, -1:]
        return np.minimum((cdf <= u).sum(axis=1), cdf.shape[1] - 1).astype(np.int64)


class DeployedPolicy:
    """An exported policy: ``predict_chunk(obs_history, rng)`` -> action chunk in environment units. ``cameras``:
    camera key -> frame (H, W) of a policy that sees cameras, empty for a state-only one."""

    def __init__(self, directory: Path, manifest: dict[str, Any], sessions: dict[str, ort.InferenceSession]):
        self.directory = directory
        self.name: str = manifest["policy"]
        self.config: dict[str, Any] = manifest["policy_config"]
        self.sampler: dict[str, Any] = manifest["sampler"]
        self.env: str | None = manifest.get("env")
        self.sessions = sessions
        norm = manifest["normalization"]
        self._obs = _affine(norm["observation.state"])
        self._action = _affine(norm["action"])
        self.horizon, self.act_dim = self.config["horizon"], self.config["act_dim"]
        self.n_obs_steps, self.obs_dim = self.config["n_obs_steps"], self.config["obs_dim"]
        self.cameras = cameras(self.config)

    def run(self, graph: str, **inputs: np.ndarray) -> list[np.ndarray]:
        """The outputs of graph ``graph`` (in its signature's order) for named inputs."""
        return self.sessions[graph].run(None, inputs)

    def predict_chunk(self, obs: Observation, rng: np.random.Generator | Draws) -> np.ndarray:
        """Observation history in environment units -> chunk (B, H, act_dim) float32 in environment units. ``obs``:
        (B, T_obs, obs_dim), or a dict of ``observation.state`` (B, T_obs, obs_dim) and, for a policy with cameras,
        each camera's frames (B, T_obs, 3, H, W) uint8 under its key, newest last. ``rng``: a numpy generator, or a
        ``Draws`` that supplies every random number."""
        state, frames = self._split(obs)
        draws = NumpyDraws(rng) if isinstance(rng, np.random.Generator) else rng
        shift, scale = self._obs
        state = (state - shift) / scale  # (B, T_obs, obs_dim)
        if self.cameras:  # the visual encoder's graph: (B, T_obs * (features of each camera + obs_dim))
            cond = self.run("encoder", state=state, **frames)[0]
        else:
            cond = state.reshape(len(state), -1)  # (B, T_obs * obs_dim)
        chunk = SAMPLERS[self.name](self, cond, draws)  # normalised (B, H, act_dim)
        shift, scale = self._action
        return (chunk * scale + shift).astype(np.float32)

    def _split(self, obs: Observation) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """obs -> the state history (B, T_obs, obs_dim) float32 and each camera's frames, shapes checked."""
        if isinstance(obs, Mapping):
            missing = [key for key in (keys.OBS, *self.cameras) if key not in obs]
            if missing:
                raise ValueError(f"{self.name}: obs has no {', '.join(missing)} (found: {', '.join(obs)})")
            state = np.asarray(obs[keys.OBS], dtype=np.float32)
        elif self.cameras:
            raise ValueError(
                f"{self.name} sees cameras {', '.join(self.cameras)}: obs must be a dict with '{keys.OBS}' and "
                f"those keys, got an array of shape {np.shape(obs)}"
            )
        else:
            state = np.asarray(obs, dtype=np.float32)
        if state.ndim != 3 or state.shape[1:] != (self.n_obs_steps, self.obs_dim):
            raise ValueError(
                f"{self.name}: obs must be (B, {self.n_obs_steps}, {self.obs_dim}), got {tuple(state.shape)}"
            )
        frames = {}
        for key, (h, w) in self.cameras.items():
            assert isinstance(obs, Mapping)  # a policy with cameras was given the dict form (checked above)
            frame = np.ascontiguousarray(obs[key])
            if frame.shape != (len(state), self.n_obs_steps, 3, h, w) or frame.dtype != np.uint8:
                raise ValueError(
                    f"{self.name}: {key} must be (B={len(state)}, {self.n_obs_steps}, 3, {h}, {w}) uint8, "
                    f"got {frame.shape} {frame.dtype}"
                )
            frames[key] = frame
        return state, frames


def _affine(stats: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(stats["shift"], dtype=np.float32), np.asarray(stats["scale"], dtype=np.float32)


# ------------------------------------------------------------------------------------------- sampling loops
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


SAMPLERS: dict[str, Callable[[DeployedPolicy, np.ndarray, Draws], np.ndarray]] = {
    "bc": _mlp,
    "chunked-bc": _mlp,
    "gmm": _gmm,
    "diffusion": _diffusion,
    "flow": _flow,
    "tokenized": _tokenized,
    "act": _act,
}


# ------------------------------------------------------------------------------------------------- loading


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise DeployError(f"{path} not found: is {directory} a directory written by `imitlab export`?")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DeployError(f"{path} is not valid JSON: {err}") from err
    if manifest.get("format") != FORMAT:
        raise DeployError(f"{path}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DeployError(
            f"{path}: format_version is {manifest.get('format_version')!r}, this runtime reads {FORMAT_VERSION}; "
            "re-export the run with `imitlab export`"
        )
    missing = [k for k in ("policy", "policy_config", "normalization", "sampler", "graphs") if k not in manifest]
    if missing:
        raise DeployError(f"{path} has no key {', '.join(map(repr, missing))} (found: {', '.join(manifest)})")
    if manifest["policy"] not in SAMPLERS:
        raise DeployError(f"{path}: no runtime sampler for policy {manifest['policy']!r}")
    return manifest


def _check_normalization(path: Path, manifest: dict[str, Any]) -> None:
    c = manifest["policy_config"]
    for feature, dim in (("observation.state", c["obs_dim"]), ("action", c["act_dim"])):
        stats = manifest["normalization"].get(feature, {})
        for key in ("shift", "scale"):
            if len(stats.get(key, [])) != dim:
                raise DeployError(
                    f"{path}: normalization[{feature!r}][{key!r}] must hold {dim} numbers (the config's dimension), "
                    f"got {len(stats.get(key, []))}"
                )


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for unreadable graphs
        raise DeployError(f"{path} is not a loadable ONNX graph: {err}") from err


def _check_graph(path: Path, session: ort.InferenceSession, signature: dict[str, dict[str, list]]) -> None:
    """The graph's input and output names and shapes must be those the config implies. The exporter leaves some
    output axes symbolic (the U-Net's crop to H); such an axis matches any expected size."""
    for kind, nodes in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        found = {n.name: [d if isinstance(d, int) or d == BATCH else "?" for d in n.shape] for n in nodes}
        expected = signature[kind]
        same = found.keys() == expected.keys() and all(
            len(found[k]) == len(expected[k]) and all(f in ("?", e) for f, e in zip(found[k], expected[k]))
            for k in expected
        )
        if not same:
            raise DeployError(
                f"{path} does not match its config in {MANIFEST_FILE}: {kind} {found}, the config implies {expected}; "
                "re-export the run"
            )


def load(directory: str | Path, threads: int = 0) -> DeployedPolicy:
    """The policy exported to ``directory``; ``threads`` = onnxruntime intra-op threads (0: its default)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    manifest_path = directory / MANIFEST_FILE
    _check_normalization(manifest_path, manifest)
    try:
        signatures = graph_signatures(manifest["policy"], manifest["policy_config"])
    except KeyError as err:
        raise DeployError(f"{manifest_path}: policy_config has no field {err}") from err
    sessions = {}
    for name, signature in signatures.items():
        path = directory / manifest["graphs"].get(name, {}).get("file", f"{name}.onnx")
        if not path.is_file():
            raise DeployError(f"{path} not found: {manifest_path} names graph {name!r}; re-export the run")
        sessions[name] = _session(path, threads)
        _check_graph(path, sessions[name], signature)
    return DeployedPolicy(directory, manifest, sessions)
