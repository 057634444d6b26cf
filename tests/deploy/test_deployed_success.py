"""Success is kept through deployment (slow: trains the demo's diffusion recipe on each env): the exported policy,
run by the torch-free runtime through the same chunk executor on the same 100 evaluation seeds, succeeds within
the eager policy's Wilson 95% interval."""

from __future__ import annotations

import pytest

from imitlab.deploy.adapter import load_for_executor
from imitlab.deploy.export import export_policy
from imitlab.evaluation.evaluate import evaluate
from imitlab.experiments.recipes import DEMOS, recipe
from imitlab.experiments.runs import RunSpec, trained_policy

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("env", ["two-path", "pendulum"])
def test_exported_diffusion_succeeds_within_the_eager_runs_wilson_interval(tmp_path, env):
    policy_overrides, train_overrides = recipe(env, "diffusion")
    policy, _ = trained_policy(RunSpec(env, "diffusion", DEMOS[env], 0, policy_overrides, train_overrides), tmp_path)
    eager = evaluate(policy, env, episodes=100, seed=0)
    deployed = load_for_executor(export_policy(policy, tmp_path / "export").parent)
    exported = evaluate(deployed, env, episodes=100, seed=0)
    assert exported.seeds == eager.seeds
    assert eager.ci_low <= exported.success_rate <= eager.ci_high, (eager, exported)
