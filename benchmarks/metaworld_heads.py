"""Heads on one Meta-World task from the state, over training seeds: collect N expert demonstrations (collection
seed 0), train each head per training seed with Meta-World's recipe (--no-recipe: the head's defaults), evaluate
100 episodes per seed on the evaluation seeds, and print success per seed, the mean with its seed-level 95%
interval, and each head paired against the first on the same evaluation seeds. Finished runs under --runs are
reused.

    python benchmarks/metaworld_heads.py --task reach --heads bc diffusion --seeds 0 1 2 3 4 --demos 50
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def imitlab(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "imitlab.cli", *args], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="reach")
    parser.add_argument("--heads", nargs="+", default=["bc", "diffusion"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--demos", type=int, default=50)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--runs", type=Path, default=Path("runs/mw"))
    parser.add_argument(
        "--no-recipe", action="store_true", help="train with the heads' defaults, without Meta-World's recipe"
    )
    args = parser.parse_args()
    recipe = ["--no-recipe"] if args.no_recipe else []
    if importlib.util.find_spec("metaworld") is None:
        print("metaworld_heads: skipped, the metaworld extra is not installed (pip install -e '.[metaworld]')")
        return
    from imitlab.evaluation.stats import paired_over_seeds, success_over_seeds

    env = f"metaworld/{args.task}"
    data = args.runs / "data" / f"{args.task}-{args.demos}"
    if not data.exists():
        imitlab("collect", "--env", env, "--episodes", str(args.demos), "--out", str(data), "--seed", "0")
    results: dict[str, list[dict]] = {}
    for head in args.heads:
        for seed in args.seeds:
            run = args.runs / args.task / f"{head}-s{seed}"
            if not (run / "eval.json").is_file():
                imitlab("train", "--policy", head, "--data", str(data), "--out", str(run), "--seed", str(seed), *recipe)
                imitlab(
                    "eval",
                    "--checkpoint",
                    str(run),
                    "--episodes",
                    str(args.episodes),
                    "--seed",
                    str(seed),
                    "--json",
                    str(run / "eval.json"),
                )
            results.setdefault(head, []).append(json.loads((run / "eval.json").read_text()))
    print(
        f"{env}, {args.demos} demonstrations, {len(args.seeds)} training seeds, {args.episodes} evaluation episodes each"
    )
    print("| head | success per seed | mean [95% interval over seeds] |\n|---|---|---|")
    for head, evals in results.items():
        success = success_over_seeds([e["successes"] for e in evals], [e["episodes"] for e in evals])
        per_seed = " · ".join(f"{e['success_rate']:.0%}" for e in evals)
        print(f"| {head} | {per_seed} | {success.rate:.0%} [{success.low:.0%}, {success.high:.0%}] |")
    base = args.heads[0]
    for head in args.heads[1:]:
        paired = paired_over_seeds(
            [np.array(e["episode_success"], bool) for e in results[head]],
            [np.array(e["episode_success"], bool) for e in results[base]],
        )
        print(
            f"\n{head} - {base}: {paired.difference:+.0%} [{paired.low:+.0%}, {paired.high:+.0%}] over seeds; "
            f"seeds favouring {head} / {base} / tied: {paired.a_better} / {paired.b_better} / {paired.ties}"
        )


if __name__ == "__main__":
    main()
