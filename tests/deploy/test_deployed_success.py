"""Success is kept through deployment (slow: trains the demo's diffusion recipe on each env): the exported policy,
run by the torch-free runtime through the same chunk executor on the same 100 evaluation seeds, succeeds as often
as the eager policy. The runtime draws its noise from numpy, so the two runs are two samples of one policy; they
are compared episode by episode with the exact McNemar test (a check that the exported success lies inside the
eager run's Wilson interval fails whenever eager scores 99/100 and the export 100/100)."""

from __future__ import annotations

import pytest

from imitlab.deploy.adapter import load_for_executor
from imitlab.deploy.export import export_policy
from imitlab.evaluation.evaluate import evaluate
from imitlab.evaluation.stats import mcnemar_exact_p
from imitlab.experiments.recipes import demos_for, recipe
from imitlab.experiments.runs import RunSpec, trained_policy

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("env", ["two-path", "pendulum"])
def test_exported_diffusion_succeeds_as_often_as_eager_on_the_same_evaluation_seeds(tmp_path, env):
    policy_overrides, train_overrides = recipe(env, "diffusion")
    policy, _ = trained_policy(
        RunSpec(env, "diffusion", demos_for(env), 0, policy_overrides, train_overrides), tmp_path
    )
    eager = evaluate(policy, env, episodes=100, seed=0)
    deployed = load_for_executor(export_policy(policy, tmp_path / "export").parent)
    exported = evaluate(deployed, env, episodes=100, seed=0)
    assert exported.seeds == eager.seeds
    p = mcnemar_exact_p(exported.episode_success, eager.episode_success)
    print(
        f"{env}: eager {eager.successes}/100 [{eager.ci_low:.3f}, {eager.ci_high:.3f}], exported {exported.successes}/100, McNemar p = {p:.3g}"
    )
    assert p > 0.05, (eager, exported)
