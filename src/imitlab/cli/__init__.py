"""Command-line interface: ``imitlab collect | train | eval | dagger | remedy | compounding | rl | import | study |
report | demo``. Run ``imitlab COMMAND --help``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from imitlab.core.errors import ImitlabError

EXAMPLES = """examples:
  imitlab collect --env two-path --episodes 100 --out runs/data/two-path --seed 0
  imitlab train --policy chunked-bc --data runs/data/two-path --out runs/cbc --steps 3000 --chunk-size 8
  imitlab eval --checkpoint runs/cbc --episodes 100 --seed 0 --json runs/cbc/eval.json
  imitlab dagger --env pendulum --policy bc --init-demos 10 --rounds 5 --out runs/dagger
  imitlab study chunk-size --out runs/studies --scale small
  imitlab report runs/studies --out report.html
  imitlab rl --algo ppo --env pendulum --steps 40000 --seed 0 --out runs/rl/ppo-pendulum
  imitlab demo --out runs/demo
"""


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` with value parsed as JSON when it is valid JSON (numbers, true, lists), else a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        return key.replace("-", "_"), json.loads(raw)
    except json.JSONDecodeError:
        return key.replace("-", "_"), raw


def add_device_option(parser: argparse.ArgumentParser, verb: str) -> None:
    from imitlab.training.distributed import DEVICES

    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help=f"where to {verb}: auto = this process's GPU when CUDA is available (LOCAL_RANK under "
        "torchrun), else the CPU",
    )


def cmd_collect(args: argparse.Namespace) -> None:
    from imitlab.data.collect import collect
    from imitlab.data.noisy_expert import Noise

    stds, epsilons = args.expert_noise, args.epsilon
    if len(stds) != len(epsilons) and 1 not in (len(stds), len(epsilons)):
        raise SystemExit(
            f"error: give one --expert-noise or as many as --epsilon values, got {len(stds)} and {len(epsilons)}"
        )
    n = max(len(stds), len(epsilons))
    levels = [Noise(stds[i % len(stds)], epsilons[i % len(epsilons)]) for i in range(n)]
    dataset = collect(
        args.env, args.episodes, args.out, seed=args.seed, overwrite=args.overwrite, noise=levels, label=args.label
    )
    print(f"wrote {dataset.num_episodes} episodes, {dataset.num_frames} frames to {args.out}")
    if any(not level.is_zero for level in levels):
        returns = [float(dataset.reward[s:e].sum()) for s, e in zip(dataset.episode_starts, dataset.episode_ends)]
        success = [bool(dataset.success[e - 1]) for e in dataset.episode_ends]
        for i, level in enumerate(levels):
            r, ok = returns[i :: len(levels)], success[i :: len(levels)]
            print(
                f"  noise std {level.std:g}, epsilon {level.epsilon:g}: {len(r)} episodes, return "
                f"{sum(r) / len(r):.1f} (min {min(r):.1f}, max {max(r):.1f}), success {sum(ok)}/{len(ok)}"
            )


def cmd_train(args: argparse.Namespace) -> None:
    from imitlab.training.train import train_policy

    policy_overrides = dict(args.set)
    for flag, field in (
        ("chunk_size", "horizon"),
        ("obs_history", "n_obs_steps"),
        ("n_action_steps", "n_action_steps"),
    ):
        if getattr(args, flag) is not None:
            policy_overrides[field] = getattr(args, flag)
    train_overrides = {"seed": args.seed}
    for field in ("steps", "batch_size", "lr", "ema_decay"):
        if getattr(args, field) is not None:
            train_overrides[field] = getattr(args, field)
    train_policy(
        args.policy, args.data, args.out, policy_overrides, train_overrides, resume=args.resume, device=args.device
    )
    print(f"checkpoint written to {args.out}")


def cmd_eval(args: argparse.Namespace) -> None:
    from imitlab.evaluation.evaluate import evaluate, evaluate_expert
    from imitlab.training.checkpoint import load_policy, read_run_config
    from imitlab.training.distributed import resolve_device

    if args.expert:
        if not args.env:
            raise SystemExit("error: --expert needs --env")
        result = evaluate_expert(args.env, args.episodes, args.seed)
        label = f"expert on {args.env}"
    else:
        if not args.checkpoint:
            raise SystemExit("error: give --checkpoint RUN (or --expert --env ENV)")
        env = args.env or read_run_config(args.checkpoint).get("env")
        if not env:
            raise SystemExit(f"error: {args.checkpoint} does not record its env; pass --env")
        policy = load_policy(args.checkpoint).to(resolve_device(args.device))
        if args.set:  # inference-time settings, e.g. temperature or inference_z
            policy.config = policy.config.replace(**dict(args.set))
        result = evaluate(
            policy, env, args.episodes, args.seed, args.n_action_steps, args.temporal_ensemble, args.target_return
        )
        label = f"{policy.name} on {env}"
    print(
        f"{label}: success {result.success_rate:.1%} [{result.ci_low:.1%}, {result.ci_high:.1%}] "
        f"({result.successes}/{result.episodes}), return {result.mean_return:.1f} ± {result.std_return:.1f}, "
        f"{result.step_latency_ms:.2f} ms/step"
    )
    if result.success_modes:
        print(f"successes per strategy: {result.success_modes}")
    if result.mean_score is not None:
        from imitlab.envs.registry import get_env_spec

        print(f"mean score {result.mean_score:.3f}: {get_env_spec(result.env).score_rule}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")


def recipe_with_flags(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recipe for (--env, --policy), changed by --set KEY=VALUE and --steps."""
    from imitlab.experiments.recipes import recipe

    policy_overrides, train_overrides = recipe(args.env, args.policy)
    policy_overrides.update(dict(args.set))
    if args.steps:
        train_overrides["steps"] = args.steps
    return policy_overrides, train_overrides


def cmd_dagger(args: argparse.Namespace) -> None:
    from imitlab.evaluation.stats import mcnemar_exact_p
    from imitlab.remedies.dagger import equal_label_baseline, run_dagger

    policy_overrides, train_overrides = recipe_with_flags(args)
    rounds = run_dagger(
        args.env,
        args.policy,
        args.out,
        args.init_demos,
        args.rounds,
        args.episodes_per_round,
        args.beta_schedule,
        args.warm_start,
        args.seed,
        args.eval_episodes,
        policy_overrides,
        train_overrides,
    )
    print("| round | beta | episodes | expert labels | success [95% CI] | return | p vs round 0 |")
    print("|---|---|---|---|---|---|---|")
    for r in rounds:
        p = mcnemar_exact_p(r.episode_success, rounds[0].episode_success)
        print(
            f"| {r.round} | {r.beta:.3f} | {r.episodes} | {r.expert_labels} | {r.success_rate:.0%} "
            f"[{r.ci_low:.0%}, {r.ci_high:.0%}] | {r.mean_return:.1f} | {p:.3g} |"
        )
    if args.compare_bc:
        last = rounds[-1]
        base = equal_label_baseline(
            args.env,
            args.policy,
            args.out,
            last.expert_labels,
            args.seed,
            args.eval_episodes,
            policy_overrides,
            train_overrides,
        )
        p = mcnemar_exact_p(last.episode_success, base.episode_success)
        print(
            f"\n{args.policy} on plain expert demonstrations with >= {last.expert_labels} labels: success "
            f"{base.success_rate:.0%} [{base.ci_low:.0%}, {base.ci_high:.0%}], return {base.mean_return:.1f}; "
            f"DAgger round {last.round}: {last.success_rate:.0%}; paired McNemar p = {p:.3g} "
            f"(same {len(base.episode_success)} evaluation seeds)"
        )
    print(f"\nper-round results: {args.out / 'rounds.jsonl'}; aggregated dataset: {args.out / 'data'}")


def cmd_import(args: argparse.Namespace) -> None:
    from imitlab.data.importers import DEFAULT_KEYS, import_dataset, train_split_episodes

    obs_keys, action_key = DEFAULT_KEYS[args.format]
    episodes = train_split_episodes(args.format, args.source, args.max_train_episodes)
    dataset = import_dataset(
        args.source,
        args.out,
        format=args.format,
        obs_keys=args.obs_key or obs_keys,
        action_key=args.action_key or action_key,
        env=args.env,
        fps=args.fps,
        task=args.task,
        episodes=episodes,
        image_keys=args.image_key or (),
        overwrite=args.overwrite,
    )
    cameras = "".join(f", camera {key}" for key in dataset.camera_keys)
    print(
        f"imported {dataset.num_episodes} episodes, {dataset.num_frames} frames "
        f"(obs_dim {dataset.obs_dim}, act_dim {dataset.act_dim}{cameras}) to {args.out}"
    )


def cmd_study(args: argparse.Namespace) -> None:
    from imitlab.studies import catalogue, run_study
    from imitlab.studies.report import write_report

    ray = None
    if args.executor == "ray":
        from imitlab.experiments.ray_executor import RayConfig

        ray = RayConfig(args.ray_address, args.cpus_per_run, args.gpus_per_run)
    names = list(catalogue()) if args.name == "all" else [args.name]
    for name in names:
        section = run_study(name, args.out, args.scale, args.seeds, executor=args.executor, ray=ray)
        print(f"\n## {section.title}\n{section.question}\n")
        for table in section.tables:
            print(f"{table.caption}\n{table.markdown}\n")
        print(f"figures and summary: {args.out / name}")
    print(f"report: {write_report(args.out, args.out / 'report.html')}")


def cmd_report(args: argparse.Namespace) -> None:
    from imitlab.studies.report import write_report

    print(f"report: {write_report(args.runs_dir, args.out or args.runs_dir / 'report.html')}")


def cmd_remedy(args: argparse.Namespace) -> None:
    from imitlab.remedies.augment import AugmentConfig
    from imitlab.remedies.ccil import CCILConfig
    from imitlab.remedies.compare import RemedyConfig, compare_remedies, pooled
    from imitlab.remedies.dart import DartConfig

    policy_overrides, train_overrides = recipe_with_flags(args)
    config = RemedyConfig(
        dart=DartConfig(noise_std=args.dart_noise, rounds=args.dart_rounds, scale=args.dart_scale),
        augment=AugmentConfig(copies=args.augment_copies, scale=args.augment_scale),
        ccil=CCILConfig(copies=args.ccil_copies, scale=args.ccil_scale, max_error=args.ccil_max_error),
        dagger_rounds=args.dagger_rounds,
        dagger_episodes_per_round=args.dagger_episodes_per_round,
    )
    rows = compare_remedies(
        args.method,
        args.env,
        args.policy,
        args.demos,
        args.out,
        args.seeds,
        config,
        args.eval_episodes,
        policy_overrides,
        train_overrides,
        args.equal_label_controls,
    )
    seeds = ", ".join(str(s) for s in args.seeds)
    print(
        f"{args.env}, {args.policy}, {args.demos} demos; training seeds {seeds}; success pooled over "
        f"{len(args.seeds)} x {args.eval_episodes} evaluation episodes; p: exact McNemar vs bc per seed"
    )
    print("| method | expert labels | synthetic labels | success [95% CI] | per seed | p vs bc |")
    print("|---|---|---|---|---|---|")
    for r in pooled(rows):
        per_seed = " ".join(f"{x:.0%}" for x in r["per_seed"])
        p = " ".join(f"{x:.2g}" for x in r["p_vs_bc"])
        print(
            f"| {r['label']} | {r['expert_labels']} | {r['synthetic_labels']} | {r['success_rate']:.0%} "
            f"[{r['ci_low']:.0%}, {r['ci_high']:.0%}] | {per_seed} | {p} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"\nper-run rows (with DART noise, CCIL kept labels, ...): {args.out / 'results.jsonl'}")


def cmd_compounding(args: argparse.Namespace) -> None:
    from imitlab.core.seeds import collection_seeds, evaluation_seeds
    from imitlab.evaluation.compounding import compounding_curve
    from imitlab.studies.compounding_error import write_curves
    from imitlab.training.checkpoint import load_policy

    seeds = (collection_seeds if args.initial_states == "demos" else evaluation_seeds)(args.seed, args.episodes)
    curves = []
    for label, run in args.run:
        curve = compounding_curve(load_policy(Path(run)), args.env, seeds, label)
        curves.append(curve)
        marks = {t: curve.mean[t] for t in (0, 50, 100, 199) if t < len(curve.mean)}
        print(f"{label}: mean distance " + ", ".join(f"step {t}: {v:.2f}" for t, v in marks.items()))
    write_curves(
        curves,
        args.out.with_suffix(".csv"),
        args.out.with_suffix(".png"),
        title=f"{args.env}: {args.episodes} episodes from the "
        f"{'demonstrations' if args.initial_states == 'demos' else 'evaluation seeds'}' initial states",
    )
    print(f"wrote {args.out.with_suffix('.csv')} and {args.out.with_suffix('.png')}")


def cmd_rl(args: argparse.Namespace) -> None:
    from imitlab.rl import train_rl

    out = args.out or Path("runs/rl") / f"{args.algo}-{args.env}-s{args.seed}"
    _, result = train_rl(
        args.algo,
        args.env,
        args.steps,
        out,
        seed=args.seed,
        overrides=dict(args.set),
        init_from=args.init_from,
        resume=args.resume,
    )
    print(
        f"{args.algo} on {args.env}: return {result.mean_return:.1f} ± {result.std_return:.1f}, success "
        f"{result.success_rate:.1%} [{result.ci_low:.1%}, {result.ci_high:.1%}] over {result.episodes} "
        f"evaluation episodes; run in {out}"
    )


def cmd_demo(args: argparse.Namespace) -> None:
    from imitlab.studies.demo import run_demo

    run_demo(args.out, args.scale, args.seeds)


def build_parser() -> argparse.ArgumentParser:
    import imitlab.envs  # noqa: F401
    import imitlab.policies  # noqa: F401
    from imitlab.envs.registry import ENVS
    from imitlab.policies.base import POLICIES

    envs, policies = ", ".join(sorted(ENVS)), ", ".join(sorted(POLICIES))
    parser = argparse.ArgumentParser(
        prog="imitlab",
        description="Learn robot control policies from demonstrations and measure, with confidence intervals, "
        f"which action generator works. Envs: {envs}. Policies: {policies}.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return p

    p = command(
        "collect",
        "record scripted-expert demonstrations (and the env's cameras, for the -pixels envs) into a LeRobot-layout dataset",
        "imitlab collect --env pendulum --episodes 50 --out runs/data/pendulum --seed 0",
    )
    p.add_argument("--env", required=True, help=f"environment ({envs})")
    p.add_argument("--episodes", type=int, required=True, help="number of demonstrations")
    p.add_argument("--out", type=Path, required=True, help="dataset directory to create")
    p.add_argument("--seed", type=int, default=0, help="collection seed (episode i resets with seed*100000+i)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.add_argument(
        "--expert-noise",
        type=float,
        nargs="+",
        default=[0.0],
        metavar="SIGMA",
        help="Gaussian noise std (action units) added to the executed expert action; several values "
        "are cycled over the episodes (mixed-quality data)",
    )
    p.add_argument(
        "--epsilon",
        type=float,
        nargs="+",
        default=[0.0],
        metavar="P",
        help="probability per step of a uniformly random action instead of the expert's; several "
        "values are cycled over the episodes, paired with --expert-noise",
    )
    p.add_argument(
        "--label",
        choices=["executed", "expert"],
        default="executed",
        help="record the executed (noisy) action, so returns vary, or the expert's clean action (DART)",
    )
    p.set_defaults(func=cmd_collect)

    p = command(
        "train",
        "train a policy on a dataset; checkpoints are atomic and --resume continues a killed run",
        "imitlab train --policy chunked-bc --data runs/data/pendulum --out runs/cbc --steps 3000 --chunk-size 8",
    )
    p.add_argument("--policy", required=True, help=f"policy ({policies})")
    p.add_argument("--data", type=Path, required=True, help="dataset directory (from `imitlab collect`)")
    p.add_argument("--out", type=Path, required=True, help="run directory for checkpoints and metrics.jsonl")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the policy's, else 3000)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--chunk-size", type=int, help="H, actions per predicted chunk")
    p.add_argument("--obs-history", type=int, help="T_obs, observations the policy conditions on")
    p.add_argument("--n-action-steps", type=int, help="actions executed per chunk before re-planning")
    p.add_argument("--batch-size", type=int, help="chunks per optimizer step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--ema-decay", type=float, help="EMA decay of the acting weights (0 = off)")
    p.add_argument(
        "--set",
        type=parse_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any policy config field, e.g. --set hidden_dim=512 (repeatable)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the run's train_state.pt")
    add_device_option(p, "train on")
    p.set_defaults(func=cmd_train)

    p = command(
        "eval",
        "evaluate a checkpoint (or the expert) with vectorised rollouts on evaluation seeds",
        "imitlab eval --checkpoint runs/cbc --episodes 100 --seed 0 --json runs/cbc/eval.json",
    )
    p.add_argument("--checkpoint", type=Path, help="run directory written by `imitlab train`")
    p.add_argument("--expert", action="store_true", help="evaluate the env's scripted expert instead")
    p.add_argument("--env", help="environment (default: the one the checkpoint was trained on)")
    p.add_argument("--episodes", type=int, default=100, help="evaluation episodes")
    p.add_argument("--seed", type=int, default=0, help="evaluation seed (disjoint from collection seeds)")
    p.add_argument("--n-action-steps", type=int, help="override actions executed per chunk")
    p.add_argument(
        "--temporal-ensemble",
        type=float,
        metavar="M",
        help="re-plan every step and average overlapping chunks with weights exp(-M*i)",
    )
    p.add_argument(
        "--target-return",
        type=float,
        metavar="R",
        help="prompt a return-conditioned policy (dt) with this target return",
    )
    p.add_argument(
        "--set",
        type=parse_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="replace a policy config field at inference, e.g. --set temperature=1.0 (repeatable)",
    )
    p.add_argument("--json", type=Path, help="write the result as JSON here")
    add_device_option(p, "run the policy")
    p.set_defaults(func=cmd_eval)

    p = command(
        "dagger",
        "DAgger: roll out a beta-mixture of expert and policy, label visited states with the "
        "expert, aggregate and retrain; per-round success with intervals (rerun to resume)",
        "imitlab dagger --env pendulum --policy bc --init-demos 10 --rounds 5 --episodes-per-round 10 "
        "--out runs/dagger",
    )
    p.add_argument("--env", required=True, help=f"environment whose expert labels states ({envs})")
    p.add_argument("--policy", required=True, help=f"policy to train each round ({policies})")
    p.add_argument("--out", type=Path, required=True, help="output directory (data/, round-i/, rounds.jsonl)")
    p.add_argument("--init-demos", type=int, default=10, help="expert demonstrations of round 0")
    p.add_argument("--rounds", type=int, default=5, help="DAgger rounds after round 0")
    p.add_argument("--episodes-per-round", type=int, default=10, help="mixture rollouts labelled per round")
    p.add_argument(
        "--beta-schedule",
        choices=["constant", "linear", "exponential"],
        default="exponential",
        help="expert share of the mixture in round i: 0.5, 1 - i/R, or 0.5^i (default)",
    )
    p.add_argument(
        "--warm-start",
        action="store_true",
        help="start each round from the previous round's weights instead of from scratch",
    )
    p.add_argument("--steps", type=int, help="optimizer steps per round (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0, help="seed for collection, training, mixing and evaluation")
    p.add_argument("--eval-episodes", type=int, default=100, help="evaluation episodes per round")
    p.add_argument(
        "--set",
        type=parse_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any policy config field (repeatable)",
    )
    p.add_argument(
        "--compare-bc",
        action="store_true",
        help="also train the policy on plain expert demos with as many labels as the last round, "
        "and test the difference (paired McNemar on the same evaluation seeds)",
    )
    p.set_defaults(func=cmd_dagger)

    p = command(
        "import",
        "convert another library's demonstrations (diffusion_policy zarr, imitation npz) into a LeRobot-layout dataset",
        "imitlab import ../shared/data/pusht/pusht_cchi_v7_replay.zarr --out runs/data/pusht --env pusht "
        "--obs-key state --action-key action --fps 10",
    )
    p.add_argument("source", type=Path, help="the store to read (e.g. a diffusion_policy replay buffer .zarr)")
    p.add_argument("--out", type=Path, required=True, help="dataset directory to create")
    p.add_argument(
        "--format",
        default="diffusion-policy-zarr",
        choices=["diffusion-policy-zarr", "imitation-npz"],
        help="source format: a diffusion_policy replay buffer (.zarr; keys e.g. state, action) or an "
        "imitation trajectory archive (.npz; keys obs, acts)",
    )
    p.add_argument(
        "--obs-key",
        action="append",
        metavar="KEY",
        help="array(s) forming the observation, flattened and concatenated in order; KEY[START:STOP] "
        "keeps those columns, e.g. --obs-key keypoint --obs-key 'state[:2]' for PushT's keypoint "
        "observation (default: state for zarr, obs for npz)",
    )
    p.add_argument("--action-key", help="array holding the action (default: action for zarr, acts for npz)")
    p.add_argument(
        "--image-key",
        action="append",
        metavar="KEY[=CAMERA]",
        help="array of RGB frames (N, H, W, 3) to record as camera observation.images.CAMERA (a video); CAMERA "
        "defaults to the --env's camera when it has one, else KEY. PushT: --env pusht-pixels "
        "--obs-key 'state[:2]' --image-key img",
    )
    p.add_argument("--fps", type=int, help="control frequency to record (default: the env's, else 10)")
    p.add_argument(
        "--env",
        help="registered env the data belongs to (sets names, task, fps; lets `imitlab eval` "
        "find the env of a policy trained on it)",
    )
    p.add_argument("--task", help="task string (default: the env's description)")
    p.add_argument(
        "--max-train-episodes",
        type=int,
        metavar="N",
        help="keep only diffusion_policy's training split: hold out 2%% for validation and draw N "
        "of the rest with seed 42, as its configs do (PushT: 90)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.set_defaults(func=cmd_import)

    from imitlab.experiments.runs import EXECUTORS
    from imitlab.studies import SCALES, catalogue

    studies = "\n".join(f"  {s.name:15} {s.question}" for s in catalogue().values())
    p = command(
        "study",
        "run one course experiment (or all) as a grid of configs x training seeds: CSV, figures, "
        "summary.md and an HTML report; rerunning skips finished runs",
        f"imitlab study chunk-size --out runs/studies --scale small --seeds 0\n\nstudies:\n{studies}",
    )
    p.add_argument("name", choices=[*catalogue(), "all"], metavar="NAME", help="study to run, or all")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs/studies"),
        help="output root shared by studies (data/ and runs/ are reused across them)",
    )
    p.add_argument(
        "--scale", choices=SCALES, default="small", help="small: minutes on a laptop CPU; full: the whole grid"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (one run per config per seed)")
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
    p.set_defaults(func=cmd_study)

    p = command(
        "report",
        "render every study under a directory as one self-contained HTML file",
        "imitlab report runs/studies --out report.html",
    )
    p.add_argument("runs_dir", type=Path, help="the --out directory of `imitlab study` or `imitlab demo`")
    p.add_argument("--out", type=Path, help="HTML file to write (default: RUNS_DIR/report.html)")
    p.set_defaults(func=cmd_report)

    p = command(
        "remedy",
        "fix compounding error: train a policy with BC and with each remedy (DART, noise "
        "augmentation, CCIL-style synthetic labels, DAgger) from the same demos, evaluate on the same seeds, "
        "print success with Wilson intervals and the paired McNemar test against BC",
        "imitlab remedy --env pendulum --policy bc --demos 10 --method dart augment ccil dagger "
        "--seeds 0 1 2 --equal-label-controls --out runs/remedies",
    )
    p.add_argument("--env", required=True, help=f"environment ({envs}); dart/augment/dagger query its expert")
    p.add_argument("--policy", required=True, help=f"policy trained by every method ({policies})")
    p.add_argument("--demos", type=int, default=10, help="expert demonstrations every method starts from")
    p.add_argument(
        "--method",
        nargs="+",
        default=["dart", "augment", "ccil", "dagger"],
        choices=["bc", "dart", "augment", "ccil", "dagger"],
        help="remedies to run (bc, the baseline, always runs): dart = noise injected into the expert's "
        "executed action, clean label recorded; augment = perturbed demo states labelled by the expert; "
        "ccil = perturbed states labelled by a dynamics model learned from the demos (no expert); "
        "dagger = on-policy rollouts labelled by the expert",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output directory (one run per method and seed; finished runs are reused)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="training seeds (each: demos, training and evaluation seeds of that seed)",
    )
    p.add_argument("--eval-episodes", type=int, default=100, help="evaluation episodes per run")
    p.add_argument("--steps", type=int, help="optimizer steps per training run (default: the recipe's)")
    p.add_argument(
        "--set",
        type=parse_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any policy config field (repeatable)",
    )
    p.add_argument(
        "--equal-label-controls",
        action="store_true",
        help="also train BC on more plain demos for each method that spent more expert labels than BC "
        "(augment, dagger), so a gain cannot come from label count alone",
    )
    g = p.add_argument_group("dart")
    g.add_argument(
        "--dart-noise",
        type=float,
        metavar="STD",
        help="noise std on the executed action in env units (default: estimated from a policy's error "
        "on held-out demos, the paper's iterative rule)",
    )
    g.add_argument("--dart-rounds", type=int, default=2, help="batches the demos are collected in (estimated noise)")
    g.add_argument("--dart-scale", type=float, default=1.0, help="multiplies the estimated error covariance")
    g = p.add_argument_group("augment")
    g.add_argument("--augment-copies", type=int, default=1, help="perturbed states per demo frame")
    g.add_argument("--augment-scale", type=float, default=0.1, help="perturbation std in observation stds")
    g = p.add_argument_group("ccil")
    g.add_argument("--ccil-copies", type=int, default=1, help="perturbed states per demo transition")
    g.add_argument("--ccil-scale", type=float, default=0.1, help="perturbation std in observation stds")
    g.add_argument(
        "--ccil-max-error",
        type=float,
        default=0.05,
        help="keep labels whose model residual + ensemble spread is below this (observation stds)",
    )
    g = p.add_argument_group("dagger")
    g.add_argument("--dagger-rounds", type=int, default=5, help="DAgger rounds after round 0")
    g.add_argument("--dagger-episodes-per-round", type=int, default=2, help="labelled rollouts per round")
    p.set_defaults(func=cmd_remedy)

    p = command(
        "compounding",
        "measure compounding error: distance between each policy's and the expert's state "
        "trajectory from the same initial states, per step, mean with a 95%% band; writes PNG + CSV",
        "imitlab compounding --env pendulum --run bc-10=runs/remedies/bc/seed0/run "
        "--run dagger=runs/remedies/dagger(5x2)/seed0/round-5 --out runs/compounding",
    )
    p.add_argument("--env", required=True, help=f"environment ({envs})")
    p.add_argument(
        "--run",
        type=parse_assignment,
        action="append",
        required=True,
        metavar="LABEL=RUN_DIR",
        help="a trained run directory and its label in the figure (repeatable)",
    )
    p.add_argument("--out", type=Path, required=True, help="path without suffix; writes OUT.png and OUT.csv")
    p.add_argument(
        "--initial-states",
        choices=["demos", "eval"],
        default="demos",
        help="the demonstrations' initial states (collection seeds) or fresh evaluation seeds",
    )
    p.add_argument(
        "--episodes", type=int, default=10, help="episodes: the first N demonstrations' (or evaluation) initial states"
    )
    p.add_argument("--seed", type=int, default=0, help="collection / evaluation seed")
    p.set_defaults(func=cmd_compounding)

    p = command(
        "rl",
        "policy-gradient RL (REINFORCE or PPO) on an env, from scratch or from a bc run; "
        "metrics.jsonl, atomic checkpoints, --resume, final evaluation on 100 episodes",
        "imitlab rl --algo ppo --env pendulum --steps 40000 --seed 0 --init-from runs/bc",
    )
    p.add_argument("--algo", choices=["reinforce", "ppo"], required=True, help="algorithm")
    p.add_argument("--env", required=True, help=f"environment ({envs})")
    p.add_argument("--steps", type=int, required=True, help="environment steps to train for")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, sampling, episodes and evaluation")
    p.add_argument("--out", type=Path, help="run directory (default runs/rl/ALGO-ENV-sSEED)")
    p.add_argument(
        "--init-from",
        type=Path,
        metavar="RUN",
        help="a bc (or one-observation chunked-bc) run: the PPO actor starts from its network, with "
        "the algorithm's fine-tuning defaults (init_defaults, docs/rl.md) under --set",
    )
    p.add_argument(
        "--set",
        type=parse_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any algorithm config field, e.g. --set estimator=reward_to_go --set bc_coef=0.1",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its train_state.pt")
    p.set_defaults(func=cmd_rl)

    p = command(
        "demo",
        "the main job: the heads compared, multimodality, chunk size and number of demos as small "
        "studies, then an HTML report",
        "imitlab demo --out runs/demo",
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory (rerun to resume)")
    p.add_argument(
        "--scale",
        choices=SCALES,
        default="small",
        help="small: heads (every head on two-path, the regressors on pendulum), multimodality, "
        "chunk-size and demos in about 12 minutes on 2 cores; full: every study, every value",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ImitlabError, ValueError, KeyError, FileNotFoundError, FileExistsError) as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        raise SystemExit(2) from err


if __name__ == "__main__":
    main()
