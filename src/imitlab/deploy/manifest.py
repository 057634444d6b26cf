"""The export directory's layout, shared by the exporter (torch) and the runtime (no torch): file names, the
manifest's format tag, the error type, and the input/output shapes each head's graphs (and the visual encoder's
graph of a policy with cameras) must have.

``graph_signatures(runtime, config)`` is the contract between the two sides: the exporter writes graphs with
these names and shapes, the runtime refuses graphs that differ. A shape is a list of ints, ``"B"`` for the
dynamic batch axis. Each runtime head (``RuntimeHead``: the graphs one kind of head exports and the numpy loop
that samples a chunk from them) is registered by name; a policy class names its own (``Policy.runtime_head``), so
adding a head that samples like an existing one adds nothing here, and one with a new loop registers it in a
torch-free module (the built-in ones: ``deploy/samplers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imitlab.core import keys
from imitlab.core.errors import ImitlabError
from imitlab.core.registry import Registry

MANIFEST_FILE = "deploy.json"
FORMAT = "imitlab-onnx"
# 2: a U-Net denoiser is three graphs (condition, time_film, the denoiser on their sum); 3: "runtime" names the
# runtime head that samples the policy
FORMAT_VERSION = 3
BATCH = "B"

Signature = dict[str, dict[str, list[int | str]]]  # {"inputs": {name: shape}, "outputs": {name: shape}}


@dataclass(frozen=True)
class RuntimeHead:
    """How the torch-free runtime runs one kind of head: ``graphs(config)`` -> {graph name: signature} of the
    networks it exports (the visual encoder's excluded), and ``sample(policy, cond, draws)`` -> the normalised
    chunk (B, H, act_dim), from the deployed policy (``runtime.DeployedPolicy``), the normalised condition
    (B, cond_dim) and the random draws (``runtime.Draws``)."""

    name: str
    graphs: Callable[[dict[str, Any]], dict[str, Signature]]
    sample: Callable[[Any, Any, Any], Any]
    # deploy.json's "sampler" settings the loop reads: key -> a type (or tuple of types), or the set of allowed
    # values; checked when an export is loaded (deploy/validate.py)
    sampler_schema: Mapping[str, Any] = field(default_factory=dict)


def _register_builtin_runtime_heads() -> None:
    import imitlab.deploy.samplers  # noqa: F401  (registers the built-in runtime heads)


RUNTIME_HEADS: Registry[RuntimeHead] = Registry("runtime head", load=_register_builtin_runtime_heads)
register_runtime_head = RUNTIME_HEADS.register


class DeployError(ImitlabError):
    """An export that cannot be written or loaded; the message names the file at fault."""


TASK_INPUT = keys.TASK_INDEX  # the encoder graph's input of a multi-task policy: (B,) int64 into its tasks


def cameras(config: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Camera key ("observation.images.<camera>") -> frame (H, W), in the order the policy concatenates their
    features; empty for a state-only policy (whose config.json has no ``image_shapes``)."""
    return {key: (int(shape[0]), int(shape[1])) for key, shape in config.get("image_shapes", {}).items()}


def tasks(config: dict[str, Any]) -> tuple[str, ...]:
    """The task strings of a multi-task policy, in its task table's order; () for a single-task one (whose
    config.json has no ``tasks``)."""
    return tuple(config.get("tasks", ()))


def takes_encoder(config: dict[str, Any]) -> bool:
    """Whether the policy's condition comes from an encoder graph: it sees cameras or conditions on a task."""
    return bool(cameras(config) or tasks(config))


def condition_dim(config: dict[str, Any], guidance_flag: bool = False) -> int:
    """Width of the condition the heads' graphs take: T_obs * (image features of each camera + task embedding +
    obs_dim), which for one task without cameras is the flattened normalised observation history
    (T_obs * obs_dim); plus classifier-free guidance's "observed" flag for a denoiser trained with cond_dropout."""
    flag = 1 if guidance_flag and config.get("cond_dropout", 0.0) > 0 else 0
    n_cameras = len(cameras(config))
    features = n_cameras * config["vision"]["feature_dim"] if n_cameras else 0  # a state-only config has no vision
    features += config["task_embed_dim"] if tasks(config) else 0  # a single-task config has no task_embed_dim
    return config["n_obs_steps"] * (features + config["obs_dim"]) + flag


def _encoder(c: dict[str, Any]) -> dict[str, Signature]:
    """The encoder of a policy with cameras or tasks: the normalised state history, the task index (B,) int64 of
    a multi-task policy and each camera's raw uint8 frames (under its key) -> the condition (image normalisation,
    the evaluation crop and the task embedding are in the graph)."""
    if not takes_encoder(c):
        return {}
    T = c["n_obs_steps"]
    frames: dict[str, list[int | str]] = {key: [BATCH, T, 3, h, w] for key, (h, w) in cameras(c).items()}
    task: dict[str, list[int | str]] = {TASK_INPUT: [BATCH]} if tasks(c) else {}
    inputs = {"state": [BATCH, T, c["obs_dim"]], **task, **frames}
    return {"encoder": {"inputs": inputs, "outputs": {"cond": [BATCH, condition_dim(c)]}}}


def film_rows(c: dict[str, Any]) -> int:
    """Width of a U-Net denoiser's FiLM input (deploy/unet_graph.py): every residual block's scale and bias
    (2 x its channels), each repeated over the block's length. H is padded to a multiple of 2^(levels - 1) and
    halved between levels; a level's two blocks down and its two blocks up (at the level above's width) run at
    its length, the two middle blocks at the deepest level's."""
    dims = list(c["down_dims"])
    multiple = 2 ** (len(dims) - 1)
    lengths = [(c["horizon"] + -c["horizon"] % multiple) // 2**level for level in range(len(dims))]
    down = sum(2 * d * n for d, n in zip(dims, lengths))
    mid = 2 * dims[-1] * lengths[-1]
    up = sum(2 * d * n for d, n in zip(dims[:-1], lengths[1:]))
    return 2 * (down + mid + up)  # two blocks each


def denoiser_graphs(c: dict[str, Any], output: str) -> dict[str, Signature]:
    """A denoiser (x, time, cond) -> (B, H, act_dim). The U-Net's is three graphs, its FiLM input split into the
    observation's part (once per chunk) and the time step's (once per step, N = 1 time for the whole batch)."""
    H, A = c["horizon"], c["act_dim"]
    cond: list[int | str] = [BATCH, condition_dim(c, guidance_flag=True)]
    if c["backbone"] != "unet":
        inputs = {"x": [BATCH, H, A], "time": [BATCH], "cond": cond}
        return {output: {"inputs": inputs, "outputs": {output: [BATCH, H, A]}}}
    rows = film_rows(c)
    return {
        "condition": {"inputs": {"cond": cond}, "outputs": {"film_cond": [BATCH, rows]}},
        "time_film": {"inputs": {"time": [BATCH]}, "outputs": {"film_time": [BATCH, rows]}},
        output: {"inputs": {"x": [BATCH, H, A], "film": [BATCH, rows]}, "outputs": {output: [BATCH, H, A]}},
    }


def mlp_graphs(c: dict[str, Any]) -> dict[str, Signature]:
    return {
        "net": {"inputs": {"cond": [BATCH, condition_dim(c)]}, "outputs": {"out": [BATCH, c["horizon"] * c["act_dim"]]}}
    }


def gmm_graphs(c: dict[str, Any]) -> dict[str, Signature]:
    K, D = c["n_components"], c["horizon"] * c["act_dim"]
    outputs = {"log_weights": [BATCH, K], "means": [BATCH, K, D], "log_stds": [BATCH, K, D]}
    return {"mixture": {"inputs": {"cond": [BATCH, condition_dim(c)]}, "outputs": outputs}}


def tokenized_graphs(c: dict[str, Any]) -> dict[str, Signature]:
    L, n_bins, cond = c["horizon"] * c["act_dim"], c["n_bins"], [BATCH, condition_dim(c)]
    if c["autoregressive"]:
        # all L positions in one call; tokens (B, L - 1) holds the tokens chosen so far (the rest is ignored by the
        # causal mask): position i's logits see the observation and tokens < i only
        inputs = {"cond": cond, "tokens": [BATCH, max(L - 1, 1)]}
        return {"decoder": {"inputs": inputs, "outputs": {"logits": [BATCH, L, n_bins]}}}
    return {"logits": {"inputs": {"cond": cond}, "outputs": {"logits": [BATCH, L, n_bins]}}}


def act_graphs(c: dict[str, Any]) -> dict[str, Signature]:
    inputs = {"cond": [BATCH, condition_dim(c)], "z": [BATCH, c["latent_dim"]]}
    return {"decoder": {"inputs": inputs, "outputs": {"chunk": [BATCH, c["horizon"], c["act_dim"]]}}}


def graph_signatures(runtime: str, config: dict[str, Any]) -> dict[str, Signature]:
    """{graph name: signature} of a policy sampled by runtime head ``runtime`` with config fields ``config``: the
    visual encoder's first for a policy with cameras, then the head's."""
    if runtime not in RUNTIME_HEADS:
        raise DeployError(f"no runtime head {runtime!r}; runtime heads: {', '.join(sorted(RUNTIME_HEADS))}")
    return {**_encoder(config), **RUNTIME_HEADS.get(runtime).graphs(config)}


def graph_file(name: str) -> str:
    return f"{name}.onnx"
