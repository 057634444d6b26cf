"""``imitlab export``, and the inference backends of ``imitlab eval`` (``--backend torch|onnx``, ``--compile``)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from imitlab.cli.options import Subparsers, add_command, add_out, add_set
from imitlab.core.errors import UsageError

FORMATS = ("onnx",)
BACKENDS = ("torch", "onnx")

EXAMPLE = "imitlab export --checkpoint runs/dp --out runs/dp-onnx"


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "export",
        "export a trained policy for deployment: its networks as ONNX graphs plus deploy.json (config, "
        "normalisation, sampler settings), run by imitlab.deploy.runtime with numpy and onnxruntime only",
        EXAMPLE,
    )
    p.add_argument("--checkpoint", type=Path, required=True, help="run directory written by `imitlab train`")
    add_out(p, "directory to write (replaced if it exists)", required=True)
    p.add_argument("--format", choices=FORMATS, default="onnx", help="export format")
    add_set(p, "replace an inference setting before exporting, e.g. --set num_inference_steps=5 (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.deploy.export import export_run

    manifest = export_run(args.checkpoint, args.out, dict(args.set))
    files = sorted(f.name for f in manifest.parent.iterdir())
    print(f"exported {args.checkpoint} to {args.out}: {', '.join(files)}")


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """``imitlab eval``'s --backend and --compile."""
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="torch: the eager policy; onnx: the checkpoint exported (to a temporary directory) and run by the "
        "torch-free runtime, through the same chunk executor",
    )
    p.add_argument(
        "--compile", action="store_true", help="torch backend: run the networks through torch.compile (CPU/GPU)"
    )


def backend_policy(policy: Any, args: argparse.Namespace) -> Any:
    """The policy ``imitlab eval`` rolls out for ``args.backend`` / ``args.compile``."""
    if args.backend == "onnx":
        if args.compile:
            raise UsageError("--compile applies to the torch backend only")
        import torch

        from imitlab.deploy.adapter import load_for_executor
        from imitlab.deploy.export import export_policy

        with tempfile.TemporaryDirectory(prefix="imitlab-onnx-") as tmp:  # the sessions hold the graphs once loaded
            export_policy(policy, Path(tmp) / "export")
            # as many intra-op threads as torch uses (OMP_NUM_THREADS / the cores), so the backends compare alike
            return load_for_executor(Path(tmp) / "export", threads=torch.get_num_threads())
    if args.compile:
        from imitlab.deploy.compiled import compile_policy

        return compile_policy(policy)
    return policy
