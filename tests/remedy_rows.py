"""compare_remedies-like rows for tests of the remedy summaries."""

from __future__ import annotations


def remedy_rows(bc_successes: dict[int, int]) -> list[dict]:
    """Per training seed (key), bc with the given successes out of 100 and dagger succeeding every episode."""
    rows = []
    for seed, k in bc_successes.items():
        for method, label, outcome in (
            ("bc", "bc", [i < k for i in range(100)]),
            ("dagger", "dagger(5x2)", [True] * 100),
        ):
            rows.append(
                dict(
                    method=method,
                    label=label,
                    seed=seed,
                    expert_labels=2000,
                    synthetic_labels=0,
                    successes=sum(outcome),
                    episodes=100,
                    episode_success=outcome,
                )
            )
    return rows
