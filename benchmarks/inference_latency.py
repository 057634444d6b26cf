"""Per-chunk inference latency of every action head (one ``predict_chunk`` call), at batch 1 (one robot) and
batch 64 (a vectorised evaluation), with the demo's recipe for two-path (obs 2, action 2), on three backends in
one run: eager PyTorch, ``torch.compile`` (the networks compiled, ``imitlab eval --compile``), and the exported
graphs in ONNX Runtime driven by the torch-free runtime (``imitlab eval --backend onnx``). Then Diffusion
Policy's DDIM sampling at 1 to 100 denoising steps, eager and ONNX Runtime. Then, when a side environment with
LeRobot is given, LeRobot's DiffusionPolicy at the same shape (benchmarks/side/lerobot_diffusion_latency.py).

Latency does not depend on the weights, so untrained networks of the trained shapes are timed. Median of
``--repeats`` calls after warm-up (compiling happens in the warm-up and is reported apart), with ``--threads``
PyTorch threads and as many ONNX Runtime intra-op threads. Usage:
    python benchmarks/inference_latency.py [--repeats 20] [--threads 2] [--heads ...] [--no-compile] [--no-ddim]
        [--lerobot-python PATH]

LeRobot pins its own torch, so it never goes in the project's environment: `make lerobot-env` builds the side
venv .lerobot-venv (about 8 GB), used by default; --lerobot-python (or $IMITLAB_LEROBOT_PYTHON) names another.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from imitlab.deploy.compiled import compile_policy
from imitlab.deploy.export import export_policy
from imitlab.deploy.runtime import load
from imitlab.experiments.recipes import recipe
from imitlab.policies.base import Policy, create_policy
from imitlab.training.checkpoint import placeholder_stats

HEADS = ("bc", "chunked-bc", "gmm", "diffusion", "flow", "tokenized", "act")
DENOISE_STEPS = (1, 5, 10, 20, 50, 100)
BATCHES = (1, 64)
WARMUP = 3
DEFAULT_LEROBOT_PYTHON = Path(__file__).resolve().parents[1] / ".lerobot-venv/bin/python"  # `make lerobot-env`
LEROBOT_SCRIPT = Path(__file__).parent / "side" / "lerobot_diffusion_latency.py"  # not in `make bench`: side venv only


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def median_ms(call: Callable[[], object], args: argparse.Namespace) -> float:
    """Median milliseconds of ``call()`` over ``args.repeats`` calls after WARMUP uncounted ones, on the clock
    ``args.clock`` names."""
    clock, repeats = CLOCKS[args.clock], args.repeats
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(repeats):
        start = clock()
        call()
        times.append(clock() - start)
    return 1000 * statistics.median(times)


def eager_ms(policy: Policy, batch: int, args: argparse.Namespace) -> float:
    obs = torch.randn(batch, policy.config.n_obs_steps, policy.config.obs_dim)
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        return median_ms(lambda: policy.predict_chunk(obs, generator=generator), args)


def onnx_ms(deployed, batch: int, args: argparse.Namespace) -> float:
    obs = np.random.default_rng(0).standard_normal((batch, deployed.n_obs_steps, deployed.obs_dim), np.float32)
    rng = np.random.default_rng(0)
    return median_ms(lambda: deployed.predict_chunk(obs, rng), args)


def two_path_head(name: str, **overrides) -> Policy:
    policy_overrides, _ = recipe("two-path", name)
    torch.manual_seed(0)
    fields = {**policy_overrides, **overrides}
    return create_policy(name, placeholder_stats(2, 2), obs_dim=2, act_dim=2, **fields).eval()


def deployed_copy(policy: Policy, root: Path, name: str, threads: int):
    return load(export_policy(policy, root / name).parent, threads=threads)


def head_table(args: argparse.Namespace, root: Path) -> None:
    backends = ["eager", *(["compiled"] if args.compile else []), "onnx"]
    print("| head | H | " + " | ".join(f"{b}, batch {n}" for n in BATCHES for b in backends) + " | onnx / eager |")
    print("|---|---|" + "---|" * (len(backends) * len(BATCHES) + 1))
    compile_seconds = {}
    for name in args.heads:
        policy = two_path_head(name)
        deployed = deployed_copy(policy, root, name, args.threads)
        compiled = compile_policy(policy) if args.compile else None
        cells, ratios = [], []
        for batch in BATCHES:
            eager = eager_ms(policy, batch, args)
            cells.append(f"{eager:.2f}")
            if compiled is not None:
                start = time.perf_counter()
                cells.append(f"{eager_ms(compiled, batch, args):.2f}")
                compile_seconds[(name, batch)] = time.perf_counter() - start
            onnx = onnx_ms(deployed, batch, args)
            cells.append(f"{onnx:.2f}")
            ratios.append(f"{onnx / eager:.2f}×")
        print(f"| {name} | {policy.config.horizon} | {' | '.join(cells)} | {' / '.join(ratios)} |", flush=True)
    if compile_seconds:
        worst = max(compile_seconds.values())
        print(f"\ncompiled: each (head, batch) took up to {worst:.0f} s including its first-call compilation")


def ddim_table(args: argparse.Namespace, root: Path) -> None:
    print("\nDiffusion Policy, DDIM steps (U-Net) — ms per chunk")
    print("| DDIM steps | " + " | ".join(f"{b}, batch {n}" for n in BATCHES for b in ("eager", "onnx")) + " |")
    print("|---|" + "---|" * (2 * len(BATCHES)))
    for steps in DENOISE_STEPS:
        policy = two_path_head("diffusion", num_inference_steps=steps)
        deployed = deployed_copy(policy, root, f"ddim-{steps}", args.threads)
        cells = [f"{f(m, b, args):.2f}" for b in BATCHES for f, m in ((eager_ms, policy), (onnx_ms, deployed))]
        print(f"| {steps} | {' | '.join(cells)} |", flush=True)


def lerobot_rows(args: argparse.Namespace) -> None:
    """LeRobot's DiffusionPolicy at the two-path diffusion recipe's shape, timed in the side environment."""
    print("\nLeRobot DiffusionPolicy (DDIM 10, U-Net at the recipe's widths) — ms per chunk")
    if not Path(args.lerobot_python).is_file():
        print(
            f"not run: no side environment with LeRobot at {args.lerobot_python}. Build it with `make lerobot-env` "
            "(LeRobot pins its own torch, ~8 GB), or pass --lerobot-python PATH (or set IMITLAB_LEROBOT_PYTHON)."
        )
        return
    c = two_path_head("diffusion").config
    shape = {
        "obs_dim": c.obs_dim,
        "act_dim": c.act_dim,
        "n_obs_steps": c.n_obs_steps,
        "horizon": c.horizon,
        "n_action_steps": c.n_action_steps,
        "down_dims": list(c.down_dims),
        "kernel_size": c.kernel_size,
        "n_groups": c.n_groups,
        "num_inference_steps": c.num_inference_steps,
        "num_train_steps": c.num_train_steps,
        "batches": list(BATCHES),
        "repeats": args.repeats,
        "threads": args.threads,
        "clock": args.clock,
    }
    out = subprocess.run(
        [args.lerobot_python, str(LEROBOT_SCRIPT), json.dumps(shape)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        print(f"failed ({args.lerobot_python}):\n{out.stderr[-2000:]}")
        return
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"| LeRobot {result['version']} | "
        + " | ".join(f"batch {b}: {result['ms'][str(b)]:.2f}" for b in BATCHES)
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads and ONNX Runtime intra-op threads")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile column")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time, which other jobs on a shared machine do not "
        "inflate (equal to the wall time of a single-threaded call on an idle core; use it with --threads 1)",
    )
    parser.add_argument("--heads", nargs="+", choices=HEADS, default=list(HEADS), help="heads to time")
    parser.add_argument("--no-ddim", dest="ddim", action="store_false", help="skip the DDIM-steps table")
    parser.add_argument(
        "--lerobot-python",
        default=os.environ.get("IMITLAB_LEROBOT_PYTHON", str(DEFAULT_LEROBOT_PYTHON)),
        metavar="PATH",
        help="python of a side venv with LeRobot (default: $IMITLAB_LEROBOT_PYTHON, else .lerobot-venv/bin/python)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"per-chunk latency, {args.clock} ms (median of {args.repeats}; {args.threads} PyTorch threads, {args.threads} ONNX "
        f"Runtime intra-op threads; torch {torch.__version__}, python {sys.version.split()[0]})\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        head_table(args, Path(tmp))
        if args.ddim:
            ddim_table(args, Path(tmp))
    lerobot_rows(args)


if __name__ == "__main__":
    main()
