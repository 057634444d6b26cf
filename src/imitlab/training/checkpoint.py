"""Run directories: ``config.json`` + ``model.safetensors`` (the weights that act; EMA weights when EMA is on)
+ ``train_state.pt`` (everything needed to resume). Every file is written atomically (temp file + rename)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
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


@contextmanager
def restoring(path: Path) -> Iterator[None]:
    """Turn an error raised while building from, or applying, what was read from ``path`` (missing keys, wrong
    shapes, types or values) into a CheckpointError naming ``path``."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as err:
        raise CheckpointError(
            f"{path} does not fit this run ({type(err).__name__}: {first_line(err)}); "
            "was it written by a different version, or damaged?"
        ) from None


def first_line(err: BaseException) -> str:
    """The first line of an error's message (at most 300 characters), for messages that quote it."""
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "no message"


def save_policy(run_dir: Path, policy: Policy, meta: dict[str, Any]) -> None:
    """Write the acting weights and the config (policy name + policy config + ``meta``)."""
    run_dir = Path(run_dir)
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    atomic_write(run_dir / MODEL_FILE, lambda tmp: save_file(tensors, tmp), size=size)
    write_json(run_dir / CONFIG_FILE, {"policy": policy.name, "policy_config": policy.config.to_dict(), **meta})


def read_run_config(run_dir: Path, *keys: str) -> dict[str, Any]:
    """A run's config.json, holding at least ``policy``, ``policy_config`` (an object) and ``keys``."""
    path = Path(run_dir) / CONFIG_FILE
    config = read_json_object(path, "the config of a run directory written by `imitlab train`", CheckpointError)
    for key in ("policy", "policy_config", *keys):
        if key not in config:
            raise CheckpointError(f"{path} has no key {key!r} (found: {', '.join(config)})")
    if not isinstance(config["policy_config"], dict):
        raise CheckpointError(f"{path} key 'policy_config' must be an object, found {config['policy_config']!r}")
    if not isinstance(config.get("env"), (str, type(None))):  # commands act on this env unless told another
        raise CheckpointError(f"{path} key 'env' must be an env name, found {config['env']!r}")
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
    with restoring(run_dir / CONFIG_FILE):
        policy = build_policy(config["policy"], config["policy_config"])
    load_weights(policy, read_weights(run_dir / MODEL_FILE), run_dir / MODEL_FILE)
    return policy.eval()


def load_network_weights(policy: Policy, run_dir: Path) -> None:
    """Warm start: copy a run's network weights into ``policy`` (same policy and shapes), leaving ``policy``'s
    own normalisation statistics (those of the dataset it is about to train on)."""
    path = Path(run_dir) / MODEL_FILE
    network = {k: v for k, v in read_weights(path).items() if not _is_normalizer(k)}
    load_weights(policy, network, path, needed=lambda key: not _is_normalizer(key))


def _is_normalizer(key: str) -> bool:
    return key.split(".")[0].endswith("_normalizer")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``model.safetensors``; a missing, truncated or damaged file is a CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"{path} not found: the run has no checkpoint yet")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is damaged or truncated: {first_line(err)}") from None


def load_weights(
    policy: torch.nn.Module,
    weights: dict[str, torch.Tensor],
    path: Path,
    needed: Callable[[str], bool] = lambda key: True,
) -> None:
    """Copy ``weights`` (read from ``path``) into ``policy``: every ``needed`` parameter must be there, with its
    shape, and nothing else; otherwise a CheckpointError naming ``path``."""
    try:
        missing, unexpected = policy.load_state_dict(weights, strict=False)
    except RuntimeError as err:  # a tensor of the wrong shape
        raise CheckpointError(f"{path} does not match the policy: {first_line(err)}") from None
    missing = [key for key in missing if needed(key)]
    if missing or unexpected:
        raise CheckpointError(f"{path} does not match the policy: missing {missing}, unexpected {unexpected}")
