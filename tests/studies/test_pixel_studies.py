"""The pixel variant of two-path in the heads and multimodality studies: at full scale their grids run every
two-path head on two-path-pixels too, with the camera recipe, and the analyses table, draw and animate those runs.
Small scale (the demo's) has no pixel run."""

from __future__ import annotations

import dataclasses
import json

import pytest

from env_recipes import use_recipes
from imitlab.envs.presets import SMALL_FRAME_VISION
from imitlab.envs.two_path_pixels import CAMERA, IMAGE_SIZE
from imitlab.experiments import recipes
from imitlab.experiments import runs as experiment
from imitlab.experiments.records import read_rows
from imitlab.experiments.runs import trained_run_dir
from imitlab.studies import get_study, rows, run_study
from imitlab.studies import heads as heads_study
from imitlab.studies.rows import heads_for

PIXELS = "two-path-pixels"
TINY_VISION = {"backbone": "small", "crop_shape": None, "num_keypoints": 4, "feature_dim": 8}
TINY_RECIPES = {
    ("two-path", "bc"): ({"hidden_dim": 16}, {"steps": 5, "batch_size": 16}),
    ("two-path", "gmm"): ({"hidden_dim": 16}, {"steps": 5, "batch_size": 16}),
    (PIXELS, "bc"): ({"hidden_dim": 16, "vision": TINY_VISION}, {"steps": 5, "batch_size": 16}),
    (PIXELS, "gmm"): ({"hidden_dim": 16, "vision": TINY_VISION}, {"steps": 5, "batch_size": 16}),
}


@pytest.mark.parametrize("study", ["heads", "multimodality"])
def test_the_full_scale_grid_runs_every_two_path_head_from_pixels_on_its_recipe_with_the_tiny_encoder(study):
    full = get_study(study).grid("full", (0, 1))
    pixel = [spec for spec in full if spec.env == PIXELS]
    assert sorted((spec.policy, spec.seed) for spec in pixel) == sorted(
        (policy, seed) for policy in heads_for("two-path") for seed in (0, 1)
    )
    for spec in pixel:
        state = next(s for s in full if s.env == "two-path" and (s.policy, s.seed) == (spec.policy, spec.seed))
        assert spec.policy_overrides == {**state.policy_overrides, **SMALL_FRAME_VISION}
        assert (spec.train_overrides, spec.demos) == (state.train_overrides, state.demos)


@pytest.mark.parametrize("study", ["heads", "multimodality"])
def test_the_small_scale_grid_the_demo_runs_has_no_pixel_run(study):
    assert all(spec.env != PIXELS for spec in get_study(study).grid("small", (0,)))


def test_a_pixel_run_of_the_grid_trains_on_the_camera_and_evaluates(tmp_path, monkeypatch):
    spec = next(s for s in get_study("heads").grid("full", (0,)) if (s.env, s.policy) == (PIXELS, "diffusion"))
    monkeypatch.setattr(experiment, "HELD_OUT_DEMOS", 2)
    short = {**spec.train_overrides, "steps": 2, "batch_size": 8, "log_every": 1}
    row = experiment.run_one(dataclasses.replace(spec, demos=2, train_overrides=short, eval_episodes=2), tmp_path)
    assert row["episodes"] == 2 and len(row["outcomes"]) == 2
    config = json.loads((trained_run_dir(tmp_path, row["run_id"]) / "config.json").read_text())["policy_config"]
    assert config["image_shapes"] == {CAMERA: [IMAGE_SIZE, IMAGE_SIZE]}
    assert config["vision"]["backbone"] == "tiny" and config["vision"]["crop_shape"] is None


@pytest.fixture(scope="module")
def full_scale(tmp_path_factory):
    """heads and multimodality at full scale on tiny recipes (bc and gmm, on two-path and from pixels), one seed:
    ({name: Section}, root)."""
    root = tmp_path_factory.mktemp("pixel-studies")
    with pytest.MonkeyPatch.context() as mp:
        use_recipes(mp, TINY_RECIPES, {"pendulum": 2, "two-path": 3})
        mp.setattr(experiment, "HELD_OUT_DEMOS", 2)
        mp.setattr(rows, "EVAL_EPISODES", 4)
        mp.setattr(heads_study, "TOY_STEPS", {"small": 5, "full": 5})
        mp.setattr(heads_study, "ANIMATED_EPISODES", 2)
        sections = {name: run_study(name, root, "full", (0,), progress=False) for name in ("heads", "multimodality")}
    return sections, root


def test_the_heads_study_tables_and_animates_the_pixel_runs_from_their_camera(full_scale):
    sections, root = full_scale
    per_env = sections["heads"].tables[0].markdown
    assert f"| {PIXELS} | bc |" in per_env and f"| {PIXELS} | gmm |" in per_env
    gifs = [f.file for f in sections["heads"].figures if f.file.startswith(PIXELS)]
    assert sorted(gifs) == sorted(
        f"{PIXELS}-{head}-{which}.gif" for head in ("bc", "gmm") for which in ("best", "worst")
    )
    assert all((root / "heads" / gif).read_bytes()[:6] == b"GIF89a" for gif in gifs)


def test_the_multimodality_study_tables_the_pixel_heads_and_draws_their_fork(full_scale):
    sections, root = full_scale
    closed_loop = sections["multimodality"].tables[1]
    assert f"| {PIXELS} | gmm |" in closed_loop.markdown and "| two-path | gmm |" in closed_loop.markdown
    assert "modes: summed over the training seeds" in closed_loop.caption  # every two-path variant tells its modes
    figures = [f.file for f in sections["multimodality"].figures]
    assert figures == ["fork-actions.png", f"fork-actions-{PIXELS}.png"]
    assert (root / "multimodality" / f"fork-actions-{PIXELS}.png").stat().st_size > 10_000
    assert {r["policy"] for r in read_rows(root / "multimodality" / "toy.jsonl")} == {"bc", "gmm"}


def test_a_camera_run_is_expected_to_train_longer_by_the_frames_its_batches_hold():
    """The estimate that orders trainings longest first (the demo at full scale starts the pixel runs first)."""
    state = recipes.expected_train_seconds("bc", {"steps": 100})
    camera = recipes.expected_train_seconds("bc", {"steps": 100}, SMALL_FRAME_VISION)
    half_batch = recipes.expected_train_seconds("bc", {"steps": 100, "batch_size": 128}, SMALL_FRAME_VISION)
    assert camera > half_batch > state
    assert camera - state == pytest.approx(2 * (half_batch - state))
