"""Run directories: ``config.json`` + ``model.safetensors`` (the weights that act; EMA weights when EMA is on)
+ ``train_state.pt`` (everything needed to resume). Every file is written atomically (temp file + rename)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file, save_file

from imitlab.core import keys
from imitlab.core.errors import ImitlabError
from imitlab.core.io import atomic_write, read_json_object, write_json
from imitlab.policies.base import Policy, create_policy

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
TRAIN_STATE_FILE = "train_state.pt"


class CheckpointError(ImitlabError):
    """A run directory that cannot be loaded; the message names the file at fault."""


def save_policy(run_dir: Path, policy: Policy, meta: dict[str, Any]) -> None:
    """Write the acting weights and the config (policy name + policy config + ``meta``)."""
    run_dir = Path(run_dir)
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    atomic_write(run_dir / MODEL_FILE, lambda tmp: save_file(tensors, tmp))
    write_json(run_dir / CONFIG_FILE, {"policy": policy.name, "policy_config": policy.config.to_dict(), **meta})


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG_FILE
    config = read_json_object(path, "the config of a run directory written by `imitlab train`", CheckpointError)
    for key in ("policy", "policy_config"):
        if key not in config:
            raise CheckpointError(f"{path} has no key {key!r} (found: {', '.join(config)})")
    return config


def placeholder_stats(obs_dim: int, act_dim: int) -> dict[str, dict[str, np.ndarray]]:
    """Statistics of the right shapes; the real ones are buffers restored from the checkpoint."""

    def feature(dim: int) -> dict[str, np.ndarray]:
        zeros, ones = np.zeros(dim, np.float32), np.ones(dim, np.float32)
        return {"mean": zeros, "std": ones, "min": -ones, "max": ones}

    return {keys.OBS: feature(obs_dim), keys.ACTION: feature(act_dim)}


def build_policy(name: str, config_dict: dict[str, Any]) -> Policy:
    stats = placeholder_stats(config_dict["obs_dim"], config_dict["act_dim"])
    return create_policy(name, stats, **config_dict)


def load_policy(run_dir: Path) -> Policy:
    """The policy of a run directory, ready to act (eval mode)."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    try:
        policy = build_policy(config["policy"], config["policy_config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{run_dir / CONFIG_FILE}: cannot build policy {config['policy']!r}: {err}") from err
    weights = run_dir / MODEL_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights} not found: the run has no checkpoint yet")
    missing, unexpected = policy.load_state_dict(load_file(weights), strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{weights} does not match the policy: missing {missing}, unexpected {unexpected}")
    return policy.eval()


def load_network_weights(policy: Policy, run_dir: Path) -> None:
    """Warm start: copy a run's network weights into ``policy`` (same policy and shapes), leaving ``policy``'s
    own normalisation statistics (those of the dataset it is about to train on)."""
    weights = Path(run_dir) / MODEL_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights} not found: cannot warm-start from {run_dir}")
    network = {k: v for k, v in load_file(weights).items() if not k.split(".")[0].endswith("_normalizer")}
    missing, unexpected = policy.load_state_dict(network, strict=False)
    missing = [k for k in missing if not k.split(".")[0].endswith("_normalizer")]
    if missing or unexpected:
        raise CheckpointError(f"{weights} does not match the policy: missing {missing}, unexpected {unexpected}")
