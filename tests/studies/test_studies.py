"""Studies, the report and the demo's plumbing, on tiny recipes (a few optimizer steps, few demonstrations): these
tests check that grids run, resume, and produce real tables and figures, not what the heads learn."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection

from env_recipes import use_recipes
from imitlab.evaluation.stats import SeedSuccess, bootstrap_iqm_interval, interquartile_mean
from imitlab.experiments import runs as experiment
from imitlab.experiments.records import read_rows
from imitlab.remedies.ccil import CCILConfig
from imitlab.remedies.compare import RemedyConfig
from imitlab.studies import compounding_error as remedy_studies
from imitlab.studies import get_study, plots, read_section, rows, run_study, sweeps
from imitlab.studies import heads as heads_study
from imitlab.studies.demo import DEMO_STUDIES, train_side_by_side
from imitlab.studies.report import write_report
from imitlab.training import train

SAVE = plots._save
TINY_RECIPES = {
    ("pendulum", "bc"): ({"hidden_dim": 16}, {"steps": 20}),
    ("pendulum", "chunked-bc"): ({"horizon": 4, "n_action_steps": 2, "hidden_dim": 16}, {"steps": 20}),
    ("two-path", "bc"): ({"hidden_dim": 16}, {"steps": 20}),
    ("two-path", "gmm"): ({"hidden_dim": 16}, {"steps": 20}),
}


DRAWN: dict[str, list[dict]] = {}  # figure file name -> what each of its axes shows


def recording_save(fig, out):
    """plots._save, after noting per axes: labels, points plotted, and interval artists (bands or whiskers)."""
    DRAWN[out.name] = [
        {
            "xlabel": ax.get_xlabel(),
            "ylabel": ax.get_ylabel(),
            "points": sum(len(line.get_xdata()) for line in ax.get_lines())
            + len(ax.patches)
            + sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)),
            "intervals": sum(isinstance(c, (PolyCollection, LineCollection)) for c in ax.collections),
        }
        for ax in fig.axes
    ]
    return SAVE(fig, out)


@pytest.fixture(scope="module")
def tiny():
    """Every study on tiny recipes: 4 cheap heads, 4-6 demonstrations, 20 optimizer steps, 20 eval episodes."""
    with pytest.MonkeyPatch.context() as mp:
        use_recipes(mp, TINY_RECIPES, {"pendulum": 4, "two-path": 6})
        mp.setattr(sweeps, "CHUNK_SIZES", (1, 4))
        mp.setattr(sweeps, "DEMO_COUNTS", (2, 4))
        mp.setattr(experiment, "HELD_OUT_DEMOS", 2)
        mp.setattr(heads_study, "TOY_STEPS", {"small": 10, "full": 10})
        mp.setattr(heads_study, "ANIMATED_EPISODES", 3)
        mp.setattr(rows, "EVAL_EPISODES", 20)
        mp.setattr(plots, "_save", recording_save)
        mp.setattr(remedy_studies, "COMPOUNDING_CELLS", (("bc", 2), ("bc", 4), ("chunked-bc", 4)))
        mp.setattr(remedy_studies, "REGIME_DEMOS", (2, 4))
        mp.setattr(
            remedy_studies,
            "REMEDY_CONFIG",
            RemedyConfig(
                ccil=CCILConfig(model_steps=20, ensemble=2, solve_steps=5), dagger_rounds=1, dagger_episodes_per_round=1
            ),
        )
        yield


@pytest.fixture(scope="module")
def studies(tiny, tmp_path_factory):
    """One output root with five tiny studies run once: ({name: Section}, root)."""
    root = tmp_path_factory.mktemp("studies")
    grid = {
        "chunk-size": (0, 1),
        "demos": (0,),
        "execution": (0,),
        "heads": (0,),
        "multimodality": (0,),
        "compounding-error": (0,),
        "dagger": (0,),
    }
    return {name: run_study(name, root, "small", seeds, progress=False) for name, seeds in grid.items()}, root


def test_chunk_size_study_writes_one_row_per_run_a_figure_and_a_section(studies):
    sections, root = studies
    section = sections["chunk-size"]
    rows = read_rows(root / "chunk-size" / "results.jsonl")
    assert sorted((r["policy_overrides"]["horizon"], r["seed"]) for r in rows) == [
        (1, 0),
        (1, 1),
        (4, 0),
        (4, 1),
    ]
    assert all(r["episodes"] == 20 and len(r["outcomes"]) == 20 for r in rows)
    png = root / "chunk-size" / section.figures[0].file
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert read_section(root / "chunk-size") == section
    assert "sweet spot" in section.tables[0].markdown and section.command.startswith("imitlab study chunk-size")


def test_rerunning_a_study_trains_and_evaluates_nothing_again(studies, monkeypatch):
    _, root = studies
    before = read_rows(root / "demos" / "results.jsonl")

    def no_new_runs(*args, **kwargs):
        raise AssertionError("a finished run was run again")

    monkeypatch.setattr(experiment, "run_one", no_new_runs)
    run_study("demos", root, "small", (0,), progress=False)
    assert read_rows(root / "demos" / "results.jsonl") == before


def test_the_demo_trains_side_by_side_first_so_its_studies_only_evaluate(tiny, tmp_path, monkeypatch):
    train_side_by_side(DEMO_STUDIES, tmp_path, "small", (0,))

    def no_training(*args, **kwargs):
        raise AssertionError("a policy was trained after the side-by-side phase")

    monkeypatch.setattr(train, "sample_shard", no_training)  # every optimizer step draws its batch here
    for name in DEMO_STUDIES:
        run_study(name, tmp_path, "small", (0,), progress=False)
    assert len(read_rows(tmp_path / "multimodality" / "toy.jsonl")) == 2  # the tiny two-path heads: bc, gmm


def test_runs_that_differ_only_in_evaluation_share_one_training(studies):
    _, root = studies
    rows = read_rows(root / "execution" / "results.jsonl")
    assert len(rows) == 4 and len({r["run_id"] for r in rows}) == 4
    assert len({r["run_id"].split("/eval-")[0] for r in rows}) == 1
    modes = {json.dumps(r["eval_overrides"], sort_keys=True) for r in rows}
    assert modes == {
        '{"n_action_steps": 1}',
        '{"n_action_steps": 2}',
        '{"n_action_steps": 4}',
        '{"temporal_ensemble": 0.01}',
    }


def test_guidance_study_trains_one_guided_model_per_head_and_samples_it_at_every_scale():
    grid = get_study("guidance").grid("small", (0,))
    guided = [r for r in grid if r.policy_overrides.get("cond_dropout")]
    assert {r.policy for r in guided} == {"diffusion", "flow"}
    for policy in ("diffusion", "flow"):
        runs = [r for r in guided if r.policy == policy]
        assert len({r.train_id for r in runs}) == 1
        assert sorted(r.eval_overrides["guidance_scale"] for r in runs) == sorted(sweeps.GUIDANCE_SCALES)
    reference = [r for r in grid if r not in guided]
    assert sorted(r.policy for r in reference) == ["diffusion", "flow"]
    assert all(not r.eval_overrides and "cond_dropout" not in r.policy_overrides for r in reference)


def test_heads_study_compares_every_head_with_bc_and_animates_rollouts(studies):
    sections, root = studies
    per_env, aggregate, paired = sections["heads"].tables
    for env, head in TINY_RECIPES:
        assert f"| {env} | {head} |" in per_env.markdown
    assert "| two-path | gmm |" in paired.markdown and "| pendulum | chunked-bc |" in paired.markdown
    gifs = [f for f in sections["heads"].figures if f.file.endswith(".gif")]
    assert len(gifs) == 2 * len(TINY_RECIPES)
    assert all((root / "heads" / g.file).read_bytes()[:6] == b"GIF89a" for g in gifs)


def test_multimodality_study_splits_toy_samples_and_draws_the_fork(studies):
    sections, root = studies
    toy = read_rows(root / "multimodality" / "toy.jsonl")
    assert {r["policy"] for r in toy} == {"bc", "gmm"}
    for r in toy:
        assert float(r["plus"]) + float(r["minus"]) + float(r["between"]) == pytest.approx(1.0)
    assert (root / "multimodality" / "fork-actions.png").stat().st_size > 10_000
    assert "near +1" in sections["multimodality"].tables[0].markdown


def test_every_still_figure_has_labelled_axes_with_data_and_success_intervals(studies):
    sections, _ = studies
    stills = [f.file for s in sections.values() for f in s.figures if f.file.endswith(".png")]
    assert sorted(stills) == sorted(DRAWN)
    for name, axes in DRAWN.items():
        for ax in axes:
            assert ax["xlabel"] and ax["ylabel"] and ax["points"] > 0, (name, ax)
            if ax["ylabel"] == "success":
                assert ax["intervals"] > 0, (name, ax)


def test_compounding_error_study_writes_one_curve_per_config(studies):
    sections, root = studies
    with open(root / "compounding-error" / "compounding-error.csv", newline="") as f:
        curves = list(csv.DictReader(f))  # a table for the user's spreadsheet, not a grid's records
    assert {r["label"] for r in curves} == {"bc, 2 demos", "bc, 4 demos", "chunked-bc, 4 demos"}
    assert all(float(r["ci_low"]) <= float(r["mean"]) <= float(r["ci_high"]) for r in curves)
    assert "mean distance" in sections["compounding-error"].tables[0].markdown


def test_dagger_study_sweeps_bc_over_demos_then_compares_every_remedy_with_bc_at_the_chosen_number(studies):
    sections, _ = studies
    regime, remedies = (t.markdown for t in sections["dagger"].tables)
    assert regime.count("◀") == 1 and "| 2 |" in regime and "| 4 |" in regime
    chosen = next(line for line in regime.splitlines() if "◀" in line).split("|")[1].strip()
    assert f"from {chosen} demonstrations" in sections["dagger"].tables[1].caption
    for method in ("| bc |", "| dart(", "| augment(", "| ccil(", "| dagger("):
        assert method in remedies


def test_remedies_are_compared_at_the_most_demos_where_bc_fails_on_most_seeds():
    def bc(*rates):
        return SeedSuccess(sum(rates) / len(rates), 0, 1, 0, 0, tuple(rates))

    sweep = {3: bc(0.1, 0.3, 1.0), 10: bc(0.2, 0.5, 1.0), 20: bc(0.9, 1.0, 1.0)}
    assert remedy_studies.regime_demos(sweep) == 10
    assert remedy_studies.regime_demos({5: bc(1.0), 10: bc(0.9)}) == 5  # none fails: the fewest demos


def test_report_embeds_every_figure_of_every_study(studies, tmp_path):
    sections, root = studies
    page = write_report(root, tmp_path / "report.html").read_text()
    images = re.findall(r'src="data:image/(png|gif);base64,([^"]+)"', page)
    assert len(images) == sum(len(s.figures) for s in sections.values())
    signatures = {"png": b"\x89PNG", "gif": b"GIF8"}
    assert all(base64.b64decode(data)[:4] == signatures[kind] for kind, data in images)
    assert page.index('id="heads"') < page.index('id="chunk-size"')  # catalogue order
    assert "imitlab study chunk-size --out" in page


def test_report_renders_in_headless_chromium_with_every_image_loaded(studies, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (`make test` installs the Debian package when run as root)")
    _, root = studies
    page = write_report(root, tmp_path / "report.html").read_text()
    probe = (
        "<script>window.addEventListener('load', () => document.body.setAttribute('data-loaded', "
        "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length));</script>"
    )
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", probe + "</body>"))
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    n_images = page.count("<img ")
    assert n_images >= 1 and f'data-loaded="{n_images}"' in dom


def test_report_without_studies_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="imitlab study"):
        write_report(tmp_path, tmp_path / "report.html")


def test_unknown_study_lists_the_available_ones():
    with pytest.raises(KeyError, match="chunk-size"):
        get_study("chunk-sizes")


def test_a_study_restricted_to_some_envs_keeps_only_their_runs_and_says_so_in_its_command():
    from imitlab.studies import study_command, study_grid

    full = study_grid("heads", "full", (0, 1))
    pendulum = study_grid("heads", "full", (0, 1), envs=["pendulum"])
    assert pendulum == [spec for spec in full if spec.env == "pendulum"] and 0 < len(pendulum) < len(full)
    assert study_command("heads", "runs/x", "full", (0, 1), ["pendulum"]).endswith("--seeds 0 1 --env pendulum")
    with pytest.raises(ValueError, match="no runs on cartpole; its envs: pendulum, two-path"):
        study_grid("heads", "small", (0,), envs=["pendulum", "cartpole"])


def test_all_studies_restricted_to_an_env_are_those_with_runs_on_it():
    from imitlab.studies import studies_on

    pendulum = ["heads", "chunk-size", "demos", "obs-history", "execution", "compounding-error", "recipe-checks"]
    assert studies_on(["pendulum"], "small") == pendulum
    assert studies_on(["pendulum", "two-path"], "small") == ["heads", "recipe-checks"]
    assert studies_on(["cartpole"], "full") == []


def test_interquartile_mean_matches_scipy_trim_mean():
    from scipy.stats import trim_mean

    values = np.random.default_rng(0).random(13)
    assert interquartile_mean(values) == pytest.approx(trim_mean(values, 0.25))


def test_bootstrap_interval_contains_the_iqm_and_narrows_with_more_runs():
    rng = np.random.default_rng(0)
    few = [rng.random(100) < 0.7 for _ in range(3)]
    many = [rng.random(100) < 0.7 for _ in range(30)]
    low_few, high_few = bootstrap_iqm_interval(few)
    low_many, high_many = bootstrap_iqm_interval(many)
    assert low_few <= interquartile_mean([o.mean() for o in few]) <= high_few
    assert high_many - low_many < high_few - low_few


@pytest.mark.slow
def test_every_study_runs_at_small_scale_with_real_figures(tmp_path, monkeypatch):
    """The whole catalogue on the real recipes (~25 minutes on 2 cores): every run lands in its CSV and every
    still figure has labelled axes, data, and intervals on success."""
    from imitlab.studies import catalogue, study_grid

    monkeypatch.setattr(plots, "_save", recording_save)
    DRAWN.clear()
    for name in catalogue():
        section = run_study(name, tmp_path, "small", (0,), progress=False, executor="processes")
        assert len(read_rows(tmp_path / name / "results.jsonl")) == len(study_grid(name, "small", (0,)))
        stills = [f.file for f in section.figures if f.file.endswith(".png")]
        assert stills, name
        for file in stills:
            for ax in DRAWN[file]:
                assert ax["xlabel"] and ax["ylabel"] and ax["points"] > 0, (name, file, ax)
                if ax["ylabel"] == "success":
                    assert ax["intervals"] > 0, (name, file, ax)
