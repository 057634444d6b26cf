"""Learning claims as behaviour (slow: `make test-slow`, ~15 minutes on 2 cores). Each head is trained with the
demo's recipe on the expert demonstrations (collection seed 0) and rolled out on 100 fresh evaluation seeds;
the thresholds are the project's claims, with Wilson 95% intervals."""

from __future__ import annotations

import json

import pytest

from imitlab.experiments.recipes import demos_for, recipe
from imitlab.experiments.runs import RunSpec, run_one

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("learning")


def train_and_evaluate(root, env: str, policy: str) -> dict:
    policy_overrides, train_overrides = recipe(env, policy)
    return run_one(RunSpec(env, policy, demos_for(env), 0, policy_overrides, train_overrides), root)


def test_mse_bc_averages_the_detours_and_fails(root):
    row = train_and_evaluate(root, "two-path", "bc")
    assert row["success_rate"] <= 0.30, row


@pytest.mark.parametrize("policy", ["gmm", "diffusion", "flow", "act", "tokenized"])
def test_generative_heads_solve_two_path_with_both_detours(root, policy):
    row = train_and_evaluate(root, "two-path", policy)
    assert row["success_rate"] >= 0.90 and row["ci_low"] >= 0.80, row
    modes = json.loads(row["success_modes"])
    for side in ("-1", "1"):
        assert 0.25 <= modes.get(side, 0) / row["successes"] <= 0.75, modes


@pytest.mark.parametrize("policy, least", [("bc", 0.9), ("chunked-bc", 0.8), ("diffusion", 0.9), ("act", 0.9)])
def test_pendulum_swing_up_is_imitated(root, policy, least):
    row = train_and_evaluate(root, "pendulum", policy)
    assert row["success_rate"] >= least, row


def test_dagger_beats_bc_with_as_many_expert_labels(tmp_path):
    from imitlab.evaluation.stats import mcnemar_exact_p
    from imitlab.remedies.dagger import equal_label_baseline, run_dagger

    policy_overrides, train_overrides = recipe("pendulum", "bc")
    rounds = run_dagger(
        "pendulum",
        "bc",
        tmp_path,
        init_demos=10,
        rounds=5,
        episodes_per_round=2,
        train_overrides=train_overrides,
        progress=False,
    )
    last = rounds[-1]
    baseline, _ = equal_label_baseline("pendulum", "bc", tmp_path, last.expert_labels, train_overrides=train_overrides)
    assert last.success_rate > baseline.success_rate
    assert mcnemar_exact_p(last.episode_success, baseline.episode_success) < 0.05


def test_decision_transformer_return_rises_with_the_prompt_and_beats_bc_on_mixed_data(tmp_path):
    from imitlab.data.collect import collect
    from imitlab.data.noisy_expert import Noise
    from imitlab.envs.pendulum import MIXED_EPSILONS
    from imitlab.evaluation.evaluate import evaluate
    from imitlab.studies.return_sweep import return_sweep
    from imitlab.training.train import train_policy

    data = tmp_path / "pendulum-mixed"
    collect("pendulum", 100, data, seed=0, noise=[Noise(epsilon=e) for e in MIXED_EPSILONS])
    trained = {}
    for name in ("dt", "bc"):
        policy_overrides, train_overrides = recipe("pendulum", name)
        trained[name] = train_policy(name, data, tmp_path / name, policy_overrides, train_overrides, progress=False)
    returns = [r.mean_return for r in return_sweep(trained["dt"], "pendulum", [-1200, -400, 0])]
    bc = evaluate(trained["bc"], "pendulum", 100, seed=0)
    assert returns == sorted(returns) and returns[-1] - returns[0] > 300, returns
    assert returns[-1] > bc.mean_return + 50, (returns, bc.mean_return)
