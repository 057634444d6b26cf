"""Learning claims of imitlab.rl (slow: minutes on one shared core). Seeds fixed; thresholds with margin where the
measured runs allow it (docs/rl.md has the measured figures)."""

import pytest
import torch

from imitlab.data.collect import collect as collect_demos
from imitlab.data.noisy_expert import Noise
from imitlab.envs.registry import get_env_spec
from imitlab.rl import train_rl
from imitlab.rl.actor import make_actor
from imitlab.rl.config import PGConfig
from imitlab.rl.loop import steps_to_target
from imitlab.rl.variance import gradient_variance
from imitlab.training.run_dir import read_metrics
from imitlab.training.train import train_policy

pytestmark = pytest.mark.slow


def test_reinforce_with_a_learned_baseline_solves_cartpole(tmp_path):
    # measured: mean return 500 from ~43k steps on (seed 0)
    _, result = train_rl("reinforce", "cartpole", 80_000, tmp_path / "run", seed=0, progress=False)
    assert result.episodes == 100
    assert result.mean_return >= 475


def test_ppo_reaches_minus_250_on_pendulum_within_40k_steps(tmp_path):
    _, result = train_rl("ppo", "pendulum", 40_000, tmp_path / "run", seed=0, progress=False)
    assert result.mean_return >= -250
    assert steps_to_target(tmp_path / "run", -250) is not None


def test_bc_initialised_ppo_starts_far_above_random_and_reaches_the_target_sooner(tmp_path):
    """bc from 10 demonstrations whose recorded action is uniformly random with probability 0.6 (a weakened expert);
    PPO's fine-tuning defaults (PPO.init_defaults) were chosen on seed 0 before this bc existed; seed 1 is held out."""
    collect_demos("pendulum", 10, tmp_path / "data", seed=0, noise=Noise(epsilon=0.6))
    train_policy("bc", tmp_path / "data", tmp_path / "bc", train_overrides={"steps": 3000}, progress=False)
    train_rl("ppo", "pendulum", 24_000, tmp_path / "scratch", seed=1, progress=False)
    train_rl("ppo", "pendulum", 24_000, tmp_path / "bc-ppo", seed=1, init_from=tmp_path / "bc", progress=False)
    start = {name: read_metrics(tmp_path / name)[0]["eval_return"] for name in ("scratch", "bc-ppo")}
    assert start["bc-ppo"] > start["scratch"] + 300
    reached = {name: steps_to_target(tmp_path / name, -250) for name in ("scratch", "bc-ppo")}
    assert reached["bc-ppo"] is not None
    assert reached["scratch"] is None or reached["bc-ppo"] < reached["scratch"]


def test_gradient_variance_falls_from_plain_to_reward_to_go_to_baseline():
    torch.manual_seed(0)
    policy = make_actor(get_env_spec("pendulum"), PGConfig())
    rows = {r.estimator: r.total_variance for r in gradient_variance(policy, "pendulum", batches=30, seed=0)}
    assert rows["plain"] > rows["reward_to_go"] > rows["baseline"]
