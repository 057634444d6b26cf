"""The plain command gets the README's numbers (slow: each head trains its full recipe). A new user's commands:
`imitlab collect --env ENV --episodes N --seed 0`, `imitlab train --policy NAME --data ...` with no other flags,
`imitlab eval --episodes 100 --seed 7`; the success must agree with the README's demo table (the two Wilson 95%
intervals overlap)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from imitlab.cli import main
from imitlab.experiments.recipes import demos_for, recipe_table, study_envs

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
# dt has no README row: it needs mixed-quality data and a target return (docs/heads.md, "dt")
HEADS = [(env, policy) for env, policy in recipe_table() if env in study_envs() and policy != "dt"]


def readme_interval(env: str, policy: str) -> tuple[float, float]:
    """The Wilson 95% interval the README's demo table gives for ``policy`` on ``env``."""
    row = re.search(rf"^\| {env} \| {policy} \| \d+ \| \d+% \[(\d+)%, (\d+)%\]", README.read_text(), re.MULTILINE)
    assert row, f"README.md has no success row for {policy} on {env}"
    return int(row[1]) / 100, int(row[2]) / 100


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """(env, policy) -> the evaluation of the plain `imitlab train` run, trained once per module."""
    root, results = tmp_path_factory.mktemp("plain"), {}

    def run(env: str, policy: str) -> dict:
        if (env, policy) not in results:
            data, out = root / "data" / env, root / env / policy
            if not data.exists():
                main(["collect", "--env", env, "--episodes", str(demos_for(env)), "--out", str(data), "--seed", "0"])
            main(["train", "--policy", policy, "--data", str(data), "--out", str(out)])
            result = out / "eval.json"
            main(["eval", "--checkpoint", str(out), "--episodes", "100", "--seed", "7", "--json", str(result)])
            results[env, policy] = json.loads(result.read_text())
        return results[env, policy]

    return run


@pytest.mark.parametrize("env, policy", HEADS, ids=[f"{e}/{p}" for e, p in HEADS])
def test_plain_train_reaches_the_readme_success(plain_run, env, policy):
    result = plain_run(env, policy)
    low, high = readme_interval(env, policy)
    assert result["ci_low"] <= high and result["ci_high"] >= low, (result["success_rate"], (low, high))


def test_plain_act_on_two_path_uses_both_detours(plain_run):
    result = plain_run("two-path", "act")
    modes = result["success_modes"]
    for side in ("-1", "1"):
        assert modes.get(side, 0) >= 0.3 * result["successes"], modes
