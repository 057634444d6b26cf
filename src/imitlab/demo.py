"""The main job: collect expert demonstrations on every env, train every head, evaluate each on 100 fresh
seeds, and print one table with Wilson 95% intervals."""

from __future__ import annotations

from pathlib import Path

from imitlab.checkpoint import load_policy
from imitlab.envs import two_path
from imitlab.experiment import RunSpec, run_grid
from imitlab.plots import plot_fork_actions
from imitlab.policies.base import get_policy_class
from imitlab.recipes import DEMOS, recipe
from imitlab.table import format_table

DEMO_POLICIES = ("bc", "chunked-bc", "gmm", "diffusion", "flow")


def demo_specs(seed: int = 0) -> list[RunSpec]:
    specs = []
    for env, demos in DEMOS.items():
        for name in DEMO_POLICIES:
            get_policy_class(name)  # fail early on a typo
            policy_overrides, train_overrides = recipe(env, name)
            specs.append(RunSpec(env, name, demos, seed, policy_overrides, train_overrides))
    return specs


def run_demo(out: Path, seed: int = 0) -> list[dict[str, str]]:
    out = Path(out)
    specs = demo_specs(seed)
    rows = run_grid(specs, out, out / "results.csv")
    table = format_table(rows)
    (out / "results.md").write_text(table + "\n")
    print(table)
    trained = {spec.label or spec.policy: load_policy(out / "runs" / spec.run_id) for spec in specs
               if spec.env == "two-path"}
    figure = plot_fork_actions(
        trained, two_path.START, two_path.fork_expert_actions(), out / "two-path-fork-actions.png",
        title="two-path: first action at the start",
    )
    print(f"figure: {figure}")
    print(f"\nresults: {out / 'results.csv'} (one row per run) and {out / 'results.md'}")
    return rows
