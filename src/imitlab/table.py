"""Plain-text tables of run results (markdown, so they paste into README and reports)."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence


def format_modes(success_modes: str) -> str:
    """'{"-1": 48, "1": 47}' -> '-1: 48 · 1: 47' (successes per strategy); '' for single-mode envs."""
    modes = json.loads(success_modes or "{}")
    return " · ".join(f"{mode}: {count}" for mode, count in modes.items())


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per run: env, policy, success with its Wilson 95% interval, return, train time, latency."""
    header = ["env", "policy", "demos", "seed", "success [95% CI]", "return (mean ± std)", "train s", "ms/step", "modes of successes"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        success = (f"{float(r['success_rate']):.0%} [{float(r['ci_low']):.0%}, {float(r['ci_high']):.0%}]"
                   f" ({r['successes']}/{r['episodes']})")
        cells = [r["env"], r["label"], r["demos"], r["seed"], success,
                 f"{float(r['mean_return']):.1f} ± {float(r['std_return']):.1f}",
                 f"{float(r['train_seconds']):.0f}", f"{float(r['step_latency_ms']):.2f}",
                 format_modes(r.get("success_modes", ""))]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
