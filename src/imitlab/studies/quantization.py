"""What 256 bins mean in environment units: the tokenized head's bin width per action dimension for a dataset
(its [min, max] range / n_bins) and the round-trip (tokenise, then decode the bin centre) error on the dataset's
own actions.

    python -m imitlab.studies.quantization --data runs/demo/data/pendulum-50 --n-bins 256
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m imitlab.studies.quantization", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="dataset directory")
    parser.add_argument("--n-bins", type=int, default=256, help="tokens per action dimension")
    args = parser.parse_args(argv)
    rows = quantization_table(args.data, args.n_bins)
    print(f"{args.data}: {load_dataset(args.data).num_frames} actions, {args.n_bins} bins per dimension")
    print(markdown_table(["action", "data range", "bin width", "mean |round-trip error|", "max"], rows))


if __name__ == "__main__":
    main()
