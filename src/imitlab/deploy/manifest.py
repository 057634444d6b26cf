"""The export directory's layout, shared by the exporter (torch) and the runtime (no torch): file names, the
manifest's format tag, the error type, and the input/output shapes each head's graphs must have.

``graph_signatures(policy, config)`` is the contract between the two sides: the exporter writes graphs with
these names and shapes, the runtime refuses graphs that differ. A shape is a list of ints, ``"B"`` for the
dynamic batch axis.
"""

from __future__ import annotations

from typing import Any

from imitlab.core.errors import ImitlabError

MANIFEST_FILE = "deploy.json"
FORMAT = "imitlab-onnx"
FORMAT_VERSION = 1
BATCH = "B"

Signature = dict[str, dict[str, list[int | str]]]  # {"inputs": {name: shape}, "outputs": {name: shape}}


class DeployError(ImitlabError):
    """An export that cannot be written or loaded; the message names the file at fault."""


def condition_dim(config: dict[str, Any], guidance_flag: bool = False) -> int:
    """Width of the flattened normalised observation history (T_obs * obs_dim), plus classifier-free guidance's
    "observed" flag for a denoiser trained with cond_dropout."""
    flag = 1 if guidance_flag and config.get("cond_dropout", 0.0) > 0 else 0
    return config["n_obs_steps"] * config["obs_dim"] + flag


def _denoiser(c: dict[str, Any], output: str) -> dict[str, Signature]:
    H, A = c["horizon"], c["act_dim"]
    inputs = {"x": [BATCH, H, A], "time": [BATCH], "cond": [BATCH, condition_dim(c, guidance_flag=True)]}
    return {output: {"inputs": inputs, "outputs": {output: [BATCH, H, A]}}}


def _mlp(c: dict[str, Any]) -> dict[str, Signature]:
    return {
        "net": {"inputs": {"cond": [BATCH, condition_dim(c)]}, "outputs": {"out": [BATCH, c["horizon"] * c["act_dim"]]}}
    }


def _gmm(c: dict[str, Any]) -> dict[str, Signature]:
    K, D = c["n_components"], c["horizon"] * c["act_dim"]
    outputs = {"log_weights": [BATCH, K], "means": [BATCH, K, D], "log_stds": [BATCH, K, D]}
    return {"mixture": {"inputs": {"cond": [BATCH, condition_dim(c)]}, "outputs": outputs}}


def _tokenized(c: dict[str, Any]) -> dict[str, Signature]:
    L, n_bins, cond = c["horizon"] * c["act_dim"], c["n_bins"], [BATCH, condition_dim(c)]
    if c["autoregressive"]:
        # all L positions in one call; tokens (B, L - 1) holds the tokens chosen so far (the rest is ignored by the
        # causal mask): position i's logits see the observation and tokens < i only
        inputs = {"cond": cond, "tokens": [BATCH, max(L - 1, 1)]}
        return {"decoder": {"inputs": inputs, "outputs": {"logits": [BATCH, L, n_bins]}}}
    return {"logits": {"inputs": {"cond": cond}, "outputs": {"logits": [BATCH, L, n_bins]}}}


def _act(c: dict[str, Any]) -> dict[str, Signature]:
    inputs = {"cond": [BATCH, condition_dim(c)], "z": [BATCH, c["latent_dim"]]}
    return {"decoder": {"inputs": inputs, "outputs": {"chunk": [BATCH, c["horizon"], c["act_dim"]]}}}


GRAPHS = {
    "bc": _mlp,
    "chunked-bc": _mlp,
    "gmm": _gmm,
    "diffusion": lambda c: _denoiser(c, "denoiser"),
    "flow": lambda c: _denoiser(c, "velocity"),
    "tokenized": _tokenized,
    "act": _act,
}


def graph_signatures(policy: str, config: dict[str, Any]) -> dict[str, Signature]:
    """{graph name: signature} for head ``policy`` with config fields ``config``."""
    if policy not in GRAPHS:
        raise DeployError(f"policy {policy!r} cannot be exported; exportable heads: {', '.join(sorted(GRAPHS))}")
    return GRAPHS[policy](config)


def graph_file(name: str) -> str:
    return f"{name}.onnx"
