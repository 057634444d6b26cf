"""Our PPO against Stable-Baselines3's PPO on Pendulum, side by side: same env dynamics (gymnasium's Pendulum-v1;
ours is its batched copy), same environment steps, same seeds, same hyper-parameters where both have them, and
both evaluated the same way (deterministic actions, the same evaluation seeds, our rollout). Prints the mean
evaluation return against environment steps and the training wall-clock (evaluation excluded) of each run.

    pip install -e '.[bench]'
    python benchmarks/ppo_vs_sb3.py --steps 40000 --seeds 0 1 2

Wall-clock figures depend on the machine and its load; compare the two columns of one run only.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

from imitlab.core.seeds import evaluation_seeds
from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import rollout
from imitlab.rl import train_rl
from imitlab.rl.ppo import PPOConfig
from imitlab.training.run_dir import read_metrics


def ours(steps: int, seed: int, out: Path) -> tuple[dict[int, float], float]:
    """{eval step: mean eval return}, training seconds (evaluation excluded). A finished run in ``out`` (the
    same command's, e.g. ``imitlab rl --algo ppo --env pendulum --steps STEPS --seed SEED --out OUT``) is reused."""
    train_rl("ppo", "pendulum", steps, out, seed=seed, progress=False, resume=True)
    records = read_metrics(out)
    curve = {r["eval_at"]: r["eval_return"] for r in records if "eval_return" in r}
    last = [r for r in records if "seconds" in r][-1]
    return curve, last["seconds"] - last["eval_seconds"]


class SB3Agent:
    """Our Agent protocol around an SB3 model (deterministic actions, VecNormalize's observation statistics)."""

    def __init__(self, model, vec_normalize):
        self.model, self.vec_normalize = model, vec_normalize

    def reset(self, seeds):
        pass

    def act(self, obs):
        return self.model.predict(self.vec_normalize.normalize_obs(obs), deterministic=True)[0]


def sb3(steps: int, seed: int, config: PPOConfig, eval_every: int, eval_episodes: int):
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    scale = config.reward_scale
    venv = make_vec_env(
        "Pendulum-v1",
        n_envs=config.num_envs,
        seed=seed,
        wrapper_class=lambda e: gym.wrappers.TransformReward(e, lambda r: r * scale),
    )
    venv = VecNormalize(venv, norm_obs=True, norm_reward=False, gamma=config.gamma)
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=200,
        batch_size=config.minibatch_size,
        n_epochs=config.update_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        learning_rate=lambda f: config.lr * f,
        clip_range=config.clip_coef,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        seed=seed,
        device="cpu",
        policy_kwargs={
            "net_arch": {"pi": [config.hidden_dim] * config.num_layers, "vf": [config.hidden_dim] * config.num_layers},
            "activation_fn": torch.nn.Tanh,
            "log_std_init": config.init_log_std,
        },
    )
    spec = get_env_spec("pendulum")
    curve: dict[int, float] = {}
    eval_env = spec.make_vector(eval_episodes)
    timing = {"eval": 0.0}

    def evaluate_now(at: int) -> None:
        started = time.perf_counter()
        result = rollout(eval_env, SB3Agent(model, venv), evaluation_seeds(seed, eval_episodes), spec.max_steps)
        curve[at] = float(result.returns.mean())
        timing["eval"] += time.perf_counter() - started

    class Evaluate(BaseCallback):
        def _on_rollout_start(self) -> None:
            if self.num_timesteps >= len(curve) * eval_every:
                evaluate_now(self.num_timesteps)

        def _on_step(self) -> bool:
            return True

    started = time.perf_counter()
    model.learn(total_timesteps=steps, callback=Evaluate())
    seconds = time.perf_counter() - started - timing["eval"]
    evaluate_now(model.num_timesteps)
    return curve, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40_000, help="environment steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs/rl"),
        help="our runs go to RUNS/ppo-pendulum-sSEED (finished ones are reused)",
    )
    args = parser.parse_args()
    if importlib.util.find_spec("stable_baselines3") is None:
        print("ppo_vs_sb3: skipped, Stable-Baselines3 is not installed (pip install -e '.[bench]')")
        return
    config = PPOConfig(**get_env_spec("pendulum").rl_defaults["ppo"])
    rows: dict[str, list] = {"ours": [], "sb3": []}
    for seed in args.seeds:
        rows["ours"].append(ours(args.steps, seed, args.runs / f"ppo-pendulum-s{seed}"))
        rows["sb3"].append(sb3(args.steps, seed, config, config.eval_every, config.eval_episodes))
        print(f"seed {seed}: ours {rows['ours'][-1][1]:.0f} s, sb3 {rows['sb3'][-1][1]:.0f} s", flush=True)

    def at(curve: dict[int, float], step: int) -> float:
        """The last evaluation at or before ``step`` (both evaluate before each batch of 1600 steps)."""
        keys = [k for k in curve if k <= step]
        return curve[max(keys)] if keys else float("nan")

    grid = list(range(0, args.steps + 1, config.eval_every))
    print(
        f"\nPendulum, {len(args.seeds)} seeds, mean (min..max) evaluation return over "
        f"{config.eval_episodes} episodes, deterministic actions"
    )
    print("| env steps | ours | SB3 PPO |\n|---|---|---|")
    for step in grid:
        cells = []
        for name in ("ours", "sb3"):
            vals = np.array([at(curve, step) for curve, _ in rows[name]])
            cells.append(f"{vals.mean():.0f} ({vals.min():.0f}..{vals.max():.0f})")
        print(f"| {step} | {cells[0]} | {cells[1]} |")
    final = {name: np.array([curve[max(curve)] for curve, _ in rows[name]]) for name in rows}
    secs = {name: np.array([s for _, s in rows[name]]) for name in rows}
    print(f"| final ({args.steps}) | {final['ours'].mean():.0f} | {final['sb3'].mean():.0f} |")
    print(f"| train wall-clock, s (mean of seeds) | {secs['ours'].mean():.1f} | {secs['sb3'].mean():.1f} |")


if __name__ == "__main__":
    main()
