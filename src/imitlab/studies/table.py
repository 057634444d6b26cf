"""Plain-text tables of run results (markdown, so they paste into README and reports)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def format_modes(success_modes: str) -> str:
    """'{"-1": 48, "1": 47}' -> '-1: 48 · 1: 47' (successes per strategy); '' for single-mode envs."""
    modes = json.loads(success_modes or "{}")
    return " · ".join(f"{mode}: {count}" for mode, count in modes.items())


def markdown_table(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    """A markdown table: one header row, then one row per entry of ``lines``."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in cells) + " |" for cells in lines]
    return "\n".join(out)


def format_success(rate: float, low: float, high: float, successes: int, episodes: int) -> str:
    """'98% [93%, 99%] (98/100)': a success rate with its 95% interval and counts."""
    return f"{rate:.0%} [{low:.0%}, {high:.0%}] ({successes}/{episodes})"


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
                float(r["success_rate"]),
                float(r["ci_low"]),
                float(r["ci_high"]),
                int(r["successes"]),
                int(r["episodes"]),
            ),
            f"{float(r['mean_return']):.1f} ± {float(r['std_return']):.1f}",
            f"{float(r['train_seconds']):.0f}",
            f"{float(r['step_latency_ms']):.2f}",
            format_modes(r.get("success_modes", "")),
        ]
        for r in rows
    ]
    return markdown_table(header, lines)
