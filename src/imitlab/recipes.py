"""Settings that work for each (env, policy) pair on a 2-core CPU, used by the demo and the studies.

Each recipe is (policy config overrides, train config overrides); anything not named takes the policy's and
TrainConfig's defaults. Changing a number here changes the figures the README quotes: rerun `make demo`.
"""

from __future__ import annotations

from typing import Any

Recipe = tuple[dict[str, Any], dict[str, Any]]

DEMOS = {"pendulum": 50, "two-path": 100}  # demonstrations per env in the demo

RECIPES: dict[tuple[str, str], Recipe] = {
    ("pendulum", "bc"): ({}, {"steps": 3000}),
    ("pendulum", "chunked-bc"): ({"horizon": 8, "n_action_steps": 4}, {"steps": 3000}),
    ("two-path", "bc"): ({}, {"steps": 3000}),
    ("two-path", "chunked-bc"): ({"horizon": 8, "n_action_steps": 4}, {"steps": 3000}),
}


def recipe(env: str, policy: str) -> Recipe:
    """The tuned settings for ``policy`` on ``env`` (empty overrides where none are recorded)."""
    policy_overrides, train_overrides = RECIPES.get((env, policy), ({}, {}))
    return dict(policy_overrides), dict(train_overrides)
