"""Meta-World env speed, side by side in one run (random actions, one task, 8 sub-envs): imitlab's batched env in
one process and over worker processes (one per core), against a plain gymnasium loop over 8 ``Meta-World/MT1``
envs and gymnasium's ``AsyncVectorEnv`` of them; then the camera: frames/s of the corner2 view with the fast scene
flags (imitlab) and with MuJoCo's defaults (gymnasium's renderer), i.e. the cost of one rendered frame.

    python benchmarks/metaworld_speed.py [--task pick-place] [--envs 8] [--steps 200]   # needs the metaworld extra
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")


def steps_per_second(step, n_envs: int, steps: int) -> float:
    step()  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return n_envs * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="pick-place")
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200, help="vector steps per measurement (frames: a quarter)")
    args = parser.parse_args()
    if importlib.util.find_spec("metaworld") is None:
        print("metaworld_speed: skipped, the metaworld extra is not installed (pip install -e '.[metaworld]')")
        return
    import gymnasium as gym
    import metaworld  # noqa: F401  (registers Meta-World/MT1)

    from imitlab.envs.metaworld import IMAGE_SIZE, BatchedMetaWorld, WorkerMetaWorld

    n, rng = args.envs, np.random.default_rng(0)
    actions = lambda: rng.uniform(-1, 1, (n, 4))  # noqa: E731
    rows = []

    ours = BatchedMetaWorld(n, args.task)
    ours.reset(seed=0)
    rows.append(("imitlab batched, 1 process", steps_per_second(lambda: ours.step(actions()), n, args.steps)))
    workers = WorkerMetaWorld(n, args.task, workers=os.cpu_count() or 2)
    workers.reset(seed=0)
    rows.append(
        (
            f"imitlab batched, {len(workers.pipes)} worker processes",
            steps_per_second(lambda: workers.step(actions()), n, args.steps),
        )
    )

    make = lambda: gym.make("Meta-World/MT1", env_name=f"{args.task}-v3", seed=0)  # noqa: E731
    plain = [make() for _ in range(n)]
    for env in plain:
        env.reset(seed=0)

    def plain_step() -> None:
        for env, action in zip(plain, actions()):
            *_, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    rows.append(("plain gymnasium loop", steps_per_second(plain_step, n, args.steps)))
    vector = gym.vector.AsyncVectorEnv([make] * n)
    vector.reset(seed=0)
    rows.append(("gymnasium AsyncVectorEnv", steps_per_second(lambda: vector.step(actions()), n, args.steps)))
    baseline = rows[2][1]
    print(f"state, {args.task}, {n} sub-envs, random actions")
    print("| env | env-steps/s | vs plain loop |\n|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / baseline:.2f}x |")

    frames = args.steps // 4
    camera = BatchedMetaWorld(n, args.task, observation="pixels")
    camera.reset(seed=0)
    fast = steps_per_second(camera.render_cameras, n, frames)
    default = gym.make(
        "Meta-World/MT1",
        env_name=f"{args.task}-v3",
        seed=0,
        render_mode="rgb_array",
        camera_name="corner2",
        width=IMAGE_SIZE,
        height=IMAGE_SIZE,
    )
    default.reset(seed=0)
    slow = steps_per_second(default.render, 1, max(5, frames // 8))
    print(f"\ncamera corner2, {IMAGE_SIZE}x{IMAGE_SIZE}, one process")
    print("| renderer | frames/s | ms per frame |\n|---|---|---|")
    print(f"| imitlab (shadows, reflections, skybox off) | {fast:,.1f} | {1000 / fast:.1f} |")
    print(f"| gymnasium's MuJoCo renderer, default scene | {slow:,.1f} | {1000 / slow:.1f} |")
    print(f"fast flags: {fast / slow:.1f}x the frames per second")
    for env in (ours, workers, vector, camera, default, *plain):
        env.close()


if __name__ == "__main__":
    main()
