"""BC against the remedies for compounding error on one Meta-World task from the state, where BC compounds.

Plain bc (the env's recipe) is swept over the number of demonstrations, with each training seed's own
demonstrations; the remedies are compared at the largest number where bc's median success over the seeds is at
most 50 % (the rule of `imitlab study dagger`), from the same demonstrations, on the same evaluation seeds, with
equal-label bc controls (bc on as many plain expert demonstrations as a method spent expert labels). Noise
augmentation is tried and its refusal printed: the 39-D observation is no simulator state. Finished runs under
--out are reused, so a rerun prints the same tables.

    python benchmarks/metaworld_remedies.py --task reach --demos 2 5 10 20 --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="reach")
    parser.add_argument("--demos", nargs="+", type=int, default=[2, 5, 10, 20], help="bc's sweep")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run")
    parser.add_argument("--methods", nargs="+", default=["dart", "ccil", "dagger"])
    parser.add_argument("--out", type=Path, default=Path("runs/mw-remedies"))
    args = parser.parse_args()
    if importlib.util.find_spec("metaworld") is None:
        print("metaworld_remedies: skipped, the metaworld extra is not installed (pip install -e '.[metaworld]')")
        return
    from imitlab.core.errors import ImitlabError
    from imitlab.experiments.recipes import resolve_recipe
    from imitlab.remedies.compare import compare_remedies, summarise
    from imitlab.studies.compounding_error import bc_over_demos, regime_demos
    from imitlab.studies.summaries import remedies_caption, remedies_table

    env = f"metaworld/{args.task}"
    settings = resolve_recipe(env, "bc")

    def compare(methods: list[str], demos: int, out: Path) -> list[dict]:
        return compare_remedies(
            methods,
            env=env,
            policy="bc",
            demos=demos,
            out=out,
            seeds=args.seeds,
            eval_episodes=args.episodes,
            policy_overrides=settings.policy_overrides,
            train_overrides=settings.train_overrides,
            equal_label_controls=True,
        )

    start = time.perf_counter()
    bc_by_demos = bc_over_demos(
        env, args.demos, args.out, args.seeds, args.episodes, settings.policy_overrides, settings.train_overrides
    )
    sweep_minutes = (time.perf_counter() - start) / 60
    chosen = regime_demos(bc_by_demos)
    print(f"{env}, plain bc ({settings.recipe}) vs demonstrations, {len(args.seeds)} training seeds")
    print("| demos | median over seeds | mean [95% interval over seeds] | per seed |\n|---|---|---|---|")
    for n, s in bc_by_demos.items():
        mark = " ◀" if n == chosen else ""
        per_seed = " · ".join(f"{r:.0%}" for r in s.per_seed)
        print(f"| {n}{mark} | {np.median(s.per_seed):.0%} | {s.rate:.0%} [{s.low:.0%}, {s.high:.0%}] | {per_seed} |")
    start = time.perf_counter()
    remedies = args.out / "remedies" / f"demos-{chosen}"
    try:
        compare(["augment"], chosen, remedies)
    except ImitlabError as error:
        print(f"\naugment: refused: {error}")
    rows = compare(args.methods, chosen, remedies)
    remedy_minutes = (time.perf_counter() - start) / 60
    summary = summarise(rows)
    print()
    print(remedies_caption(summary, f"{env}, bc from {chosen} demonstrations (◀)"))
    print(remedies_table(summary))
    print(f"\nwall-clock minutes this call: sweep {sweep_minutes:.1f}, remedies {remedy_minutes:.1f} (0: reused)")


if __name__ == "__main__":
    main()
