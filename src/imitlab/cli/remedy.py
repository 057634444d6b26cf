"""``imitlab remedy``: BC and each compounding-error remedy from the same demos, compared on the same seeds."""

from __future__ import annotations

import argparse
import json

from imitlab.cli.options import (
    Subparsers,
    add_command,
    add_env,
    add_eval_episodes,
    add_out,
    add_policy,
    add_seeds,
    add_set,
    add_steps,
    env_names,
    policy_names,
    recipe_overrides,
)


def add_parser(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "remedy",
        "fix compounding error: train a policy with BC and with each remedy (DART, noise "
        "augmentation, CCIL-style synthetic labels, DAgger) from the same demos, evaluate on the same seeds, "
        "print success over the training seeds with a seed-aware interval and the per-seed paired differences "
        "against BC",
        "imitlab remedy --env pendulum --policy bc --demos 10 --method dart augment ccil dagger "
        "--seeds 0 1 2 --equal-label-controls --out runs/remedies",
    )
    add_env(p, f"environment ({env_names()}); dart/augment/dagger query its expert", required=True)
    add_policy(p, f"policy trained by every method ({policy_names()})")
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
    add_out(p, "output directory (one run per method and seed; finished runs are reused)", required=True)
    add_seeds(p, "training seeds (each: demos, training and evaluation seeds of that seed; default: 0)")
    add_eval_episodes(p, "evaluation episodes per run")
    add_steps(p, "optimizer steps per training run (default: the recipe's)")
    add_set(p, "any policy config field (repeatable)")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from imitlab.remedies.augment import AugmentConfig
    from imitlab.remedies.ccil import CCILConfig
    from imitlab.remedies.compare import RemedyConfig, compare_remedies, summarise
    from imitlab.remedies.dart import DartConfig
    from imitlab.studies.summaries import remedies_caption, remedies_table

    policy_overrides, train_overrides = recipe_overrides(args)
    config = RemedyConfig(
        dart=DartConfig(noise_std=args.dart_noise, rounds=args.dart_rounds, scale=args.dart_scale),
        augment=AugmentConfig(copies=args.augment_copies, scale=args.augment_scale),
        ccil=CCILConfig(copies=args.ccil_copies, scale=args.ccil_scale, max_error=args.ccil_max_error),
        dagger_rounds=args.dagger_rounds,
        dagger_episodes_per_round=args.dagger_episodes_per_round,
    )
    seeds = [0] if args.seeds is None else args.seeds
    rows = compare_remedies(
        args.method,
        env=args.env,
        policy=args.policy,
        demos=args.demos,
        out=args.out,
        seeds=seeds,
        config=config,
        eval_episodes=args.eval_episodes,
        policy_overrides=policy_overrides,
        train_overrides=train_overrides,
        equal_label_controls=args.equal_label_controls,
    )
    summary = summarise(rows)
    named = " ".join(str(s) for s in seeds)
    print(remedies_caption(summary, f"{args.env}, {args.policy} from {args.demos} demos (seeds {named})"))
    print(remedies_table(summary))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"\nper-run rows (with DART noise, CCIL kept labels, ...): {args.out / 'results.jsonl'}")
