"""What 256 bins mean in environment units: the tokenized head's bin width per action dimension for a dataset
(its [min, max] range / n_bins) and the round-trip (tokenise, then decode the bin centre) error on the dataset's
own actions.

    imitlab quantization --data runs/demo/data/pendulum-50 --n-bins 256
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imitlab.core import keys
from imitlab.data.reader import load_dataset
from imitlab.policies.tokenized import TokenizedConfig, TokenizedPolicy, bin_width, round_trip
from imitlab.studies.table import markdown_table


def quantization_table(data: Path, n_bins: int = 256) -> list[list[str]]:
    """One row per action dimension: name, data range, bin width, mean and max round-trip error (env units)."""
    dataset = load_dataset(data)
    policy = TokenizedPolicy(
        TokenizedConfig(obs_dim=dataset.obs_dim, act_dim=dataset.act_dim, n_bins=n_bins), dataset.stats
    )
    error = np.abs(round_trip(policy, dataset.action) - dataset.action)  # (N, act_dim)
    names = dataset.info["features"][keys.ACTION].get("names") or [f"action[{i}]" for i in range(dataset.act_dim)]
    low, high = dataset.action.min(axis=0), dataset.action.max(axis=0)
    return [
        [name, f"[{lo:.4g}, {hi:.4g}]", f"{w:.4g}", f"{e.mean():.3g}", f"{e.max():.3g}"]
        for name, lo, hi, w, e in zip(names, low, high, bin_width(policy), error.T)
    ]


def quantization_report(data: Path, n_bins: int = 256) -> str:
    """A line naming the dataset and bin count, then ``quantization_table`` as markdown."""
    rows = quantization_table(data, n_bins)
    return f"{data}: {load_dataset(data).num_frames} actions, {n_bins} bins per dimension\n" + markdown_table(
        ["action", "data range", "bin width", "mean |round-trip error|", "max"], rows
    )
