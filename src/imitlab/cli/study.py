"""``imitlab study``: run one course experiment (or all) as a grid of configs x seeds, then the HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path

from imitlab.cli.options import Subparsers, add_command, add_out, add_scale, add_seeds
from imitlab.core.errors import InvalidInputError


def add_parser(sub: Subparsers) -> None:
    from imitlab.experiments.grid import EXECUTORS
    from imitlab.studies import catalogue

    studies = "\n".join(f"  {s.name:15} {s.question}" for s in catalogue().values())
    p = add_command(
        sub,
        "study",
        "run one course experiment (or all) as a grid of configs x training seeds: results.jsonl, figures, "
        "summary.md and an HTML report; rerunning skips finished runs",
        f"imitlab study chunk-size --out runs/studies --scale small --seeds 0\n\nstudies:\n{studies}",
    )
    p.add_argument("name", choices=[*catalogue(), "all"], metavar="NAME", help="study to run, or all")
    add_out(
        p,
        "output root shared by studies (data/ and runs/ are reused across them)",
        default=Path("runs/studies"),
    )
    add_scale(p, "small: minutes on a laptop CPU; full: the whole grid")
    add_seeds(p, "training seeds, one run per config per seed (default: 0 at small scale, 0 1 2 at full scale)")
    p.add_argument(
        "--env",
        nargs="+",
        metavar="ENV",
        help="run only the study's runs on these envs (e.g. --env pendulum); with all, only the studies that "
        "have runs on every one of them; default: every env of the grid",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: runs one after another here; processes: one single-threaded process per core "
        "(fastest on a laptop); ray: one Ray task per run (pip install 'imitlab[ray]')",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to join (e.g. auto, ray://head:10001); default: start a local Ray",
    )
    p.add_argument("--cpus-per-run", type=float, default=1.0, metavar="N", help="CPUs Ray reserves per run")
    p.add_argument("--gpus-per-run", type=float, default=0.0, metavar="G", help="GPUs Ray reserves per run")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.studies import catalogue, run_study, studies_on
    from imitlab.studies.report import write_report

    ray = None
    if args.executor == "ray":
        from imitlab.experiments.ray_executor import RayConfig

        ray = RayConfig(address=args.ray_address, cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run)
    names = list(catalogue()) if args.name == "all" else [args.name]
    if args.name == "all" and args.env:
        names = studies_on(args.env, args.scale)
        if not names:
            raise InvalidInputError(f"no study at {args.scale} scale has runs on every one of {', '.join(args.env)}")
        print(f"studies with runs on {', '.join(args.env)}: {', '.join(names)}")
    for name in names:
        section = run_study(
            name, out=args.out, scale=args.scale, seeds=args.seeds, executor=args.executor, ray=ray, envs=args.env
        )
        print(f"\n## {section.title}\n{section.question}\n")
        for table in section.tables:
            print(f"{table.caption}\n{table.markdown}\n")
        print(f"figures and summary: {args.out / name}")
    print(f"report: {write_report(args.out, args.out / 'report.html')}")
