"""Run directories: ``config.json`` + ``model.safetensors`` (the weights that act; EMA weights when EMA is on)
+ ``train_state.pt`` (everything needed to resume). Every file is written atomically (temp file + rename)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file, save_file

from imitlab.core.errors import ImitlabError
from imitlab.policies.base import Policy, create_policy

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
TRAIN_STATE_FILE = "train_state.pt"


class CheckpointError(ImitlabError):
    """A run directory that cannot be loaded; the message names the file at fault."""


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call write(tmp_path) on a temp file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def save_policy(run_dir: Path, policy: Policy, meta: dict[str, Any]) -> None:
    """Write the acting weights and the config (policy name + policy config + ``meta``)."""
    run_dir = Path(run_dir)
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    atomic_write(run_dir / MODEL_FILE, lambda tmp: save_file(tensors, tmp))
    write_json(run_dir / CONFIG_FILE, {"policy": policy.name, "policy_config": policy.config.to_dict(), **meta})


def read_run_config(run_dir: Path, *keys: str) -> dict[str, Any]:
    """A run's config.json, holding at least ``policy``, ``policy_config`` (an object) and ``keys``."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} not found: is {run_dir} a run directory written by `imitlab train`?")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} must hold a JSON object, found {type(config).__name__}")
    for key in ("policy", "policy_config", *keys):
        if key not in config:
            raise CheckpointError(f"{path} has no key {key!r} (found: {', '.join(config)})")
    if not isinstance(config["policy_config"], dict):
        raise CheckpointError(f"{path} key 'policy_config' must be an object, found {config['policy_config']!r}")
    return config


def placeholder_stats(obs_dim: int, act_dim: int) -> dict[str, dict[str, np.ndarray]]:
    """Statistics of the right shapes; the real ones are buffers restored from the checkpoint."""

    def feature(dim: int) -> dict[str, np.ndarray]:
        zeros, ones = np.zeros(dim, np.float32), np.ones(dim, np.float32)
        return {"mean": zeros, "std": ones, "min": -ones, "max": ones}

    return {"observation.state": feature(obs_dim), "action": feature(act_dim)}


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
