"""Plain-text tables of run results (markdown, so they paste into README and reports)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from imitlab.evaluation.stats import PairedSeeds, SeedSuccess


def format_modes(*success_modes: Mapping[str, int]) -> str:
    """{"-1": 48, "1": 47} -> '-1: 48 · 1: 47' (successes per strategy, summed over the runs given, e.g. every
    training seed of a row); '' for single-mode envs."""
    modes: Counter[str] = Counter()
    for counts in success_modes:
        modes.update(counts)
    return " · ".join(f"{mode}: {count}" for mode, count in modes.items())


def markdown_table(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    """A markdown table: one header row, then one row per entry of ``lines``."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in cells) + " |" for cells in lines]
    return "\n".join(out)


def format_success(rate: float, low: float, high: float, successes: int, episodes: int) -> str:
    """'98% [93%, 99%] (98/100)': a success rate with its 95% interval and counts."""
    return f"{rate:.0%} [{low:.0%}, {high:.0%}] ({successes}/{episodes})"


def format_seed_success(s: SeedSuccess) -> str:
    """One training seed: '59% [49%, 68%] (59/100)'. Several: the mean over seeds with its seed-aware interval,
    the counts, and the spread of the seeds: '62% [32%, 100%] (246/400; seeds 36%-100%)'."""
    cell = format_success(s.rate, s.low, s.high, s.successes, s.episodes)
    if s.seeds == 1:
        return cell
    low, high = min(s.per_seed), max(s.per_seed)
    spread = f"every seed {low:.0%}" if low == high else f"seeds {low:.0%}-{high:.0%}"
    return f"{cell[:-1]}; {spread})"


def seeds_note(seeds: int) -> str:
    """What a success interval over ``seeds`` training seeds is, for a table caption."""
    if seeds == 1:
        return "1 training seed (Wilson: this policy only)"
    return (
        f"{seeds} training seeds (success: mean over seeds; 95% interval: bootstrap of seeds, then of episodes "
        "within each)"
    )


def band_note(seeds: int) -> str:
    """The name of the success band in a figure over ``seeds`` training seeds."""
    return "Wilson 95% band, 1 training seed" if seeds == 1 else f"95% band over {seeds} training seeds"


def format_difference(p: PairedSeeds) -> str:
    """'+42% [+0%, +77%]' (mean per-seed difference and its interval); '+99%' with one training seed."""
    if p.seeds == 1:
        return f"{p.difference:+.0%}"
    return f"{p.difference:+.0%} [{p.low:+.0%}, {p.high:+.0%}]"


def format_seed_votes(p: PairedSeeds) -> str:
    """Training seeds favouring a, favouring b, tied: '3 · 0 · 1'."""
    return f"{p.a_better} · {p.b_better} · {p.ties}"


def format_p_values(p: PairedSeeds) -> str:
    """The exact McNemar p of each training seed: '9.1e-13 · 0.14'."""
    return " · ".join(f"{x:.2g}" for x in p.mcnemar_p)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per run: env, policy, success with its Wilson 95% interval, return, train time, latency."""
    header = [
        "env",
        "policy",
        "demos",
        "seed",
        "success [95% CI]",
        "return (mean ± std)",
        "train s",
        "ms/step",
        "modes of successes",
    ]
    lines = [
        [
            r["env"],
            r["label"],
            r["demos"],
            r["seed"],
            format_success(
                r["success_rate"],
                r["ci_low"],
                r["ci_high"],
                r["successes"],
                r["episodes"],
            ),
            f"{float(r['mean_return']):.1f} ± {float(r['std_return']):.1f}",
            f"{float(r['train_seconds']):.0f}",
            f"{float(r['step_latency_ms']):.2f}",
            format_modes(r.get("success_modes", "")),
        ]
        for r in rows
    ]
    return markdown_table(header, lines)
