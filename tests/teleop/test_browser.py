"""A scripted person in a real browser: records two-path-pixels episodes by moving the mouse along the scripted
expert's path, keeps them (they load and train), and looks at them in the viewer. Screenshots of each screen go to
$IMITLAB_SCREENSHOTS when set (docs/teleop.md's come from there)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imitlab.core.seeds import collection_seeds
from imitlab.data.reader import load_dataset
from imitlab.envs.registry import get_env_spec
from imitlab.envs.rollout import run_episodes
from imitlab.envs.two_path import BOUND

CAMERA = "observation.images.top"


def expert_path(episode: int, seed: int = 0) -> np.ndarray:
    """The positions the scripted expert passes through from episode ``episode``'s initial state, then the goal."""
    spec = get_env_spec("two-path")
    start = collection_seeds(seed, episode + 1)[-1:]
    result = run_episodes(spec, spec.make_expert(), start)
    positions = result.episode(0)["observation"]
    return np.concatenate([positions, positions[-1:] + result.episode(0)["action"][-1:]])


def screenshot(page, name: str) -> None:
    folder = os.environ.get("IMITLAB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def drive_one_episode(page, path: np.ndarray) -> dict:
    """Point at the expert's next position after every frame, until the episode ends; the final status."""
    box = page.locator("#view").bounding_box()

    def point(x: float, y: float) -> None:
        u, v = (x + BOUND) / (2 * BOUND), (BOUND - y) / (2 * BOUND)
        page.mouse.move(float(box["x"] + u * box["width"]), float(box["y"] + v * box["height"]))

    point(*path[1])
    while True:
        frames = page.evaluate("window.imitlab.frames")
        page.wait_for_function(f"window.imitlab.frames > {frames}")
        status = page.evaluate("window.imitlab.status")
        if status["done"]:
            return status
        point(*path[min(status["step"] + 1, len(path) - 1)])


def test_a_person_records_three_episodes_that_load_and_train_and_the_viewer_shows_them(browser, serve, tmp_path):
    data = tmp_path / "mine"
    app = serve("teleop", "--env", "two-path-pixels", "--out", str(data))
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.goto(app.url)
    page.wait_for_function("window.imitlab.hello !== null && window.imitlab.frames > 2")
    assert "the robot heads for the pointer" in page.inner_text("#hint")
    for episode in range(3):
        status = drive_one_episode(page, expert_path(episode))
        assert status["success"], f"episode {episode} ended unsolved at step {status['step']}"
        if episode == 2:
            screenshot(page, "teleop-record")
        page.click("#keep")
        page.wait_for_function(f"window.imitlab.status.kept === {episode + 1}")
    assert page.inner_text("#kept") == "3" and page.inner_text("#kept-successes") == "3"
    latencies = page.evaluate("window.imitlab.latencies")
    assert len(latencies) > 20 and float(np.median(latencies)) < 1000  # measured input-to-frame times, finite
    drive_one_step = page.evaluate("window.imitlab.frames")
    view = page.locator("#view").bounding_box()
    page.mouse.move(float(view["x"] + 0.3 * view["width"]), float(view["y"] + 0.7 * view["height"]))  # a fourth
    page.mouse.move(float(view["x"] + 0.2 * view["width"]), float(view["y"] + 0.7 * view["height"]))  # episode ...
    page.wait_for_function(f"window.imitlab.frames > {drive_one_step + 2} && window.imitlab.status.step > 0")
    app.process.kill()  # ... when the server is killed: the kept episodes stay, whole
    app.process.wait(timeout=30)
    page.close()

    dataset = load_dataset(data)
    assert dataset.num_episodes == 3 and dataset.camera_keys == [CAMERA]
    assert dataset.frames(CAMERA).shape[1:] == (64, 64, 3)
    assert [bool(dataset.success[s:e].any()) for s, e in zip(dataset.episode_starts, dataset.episode_ends)] == [
        True
    ] * 3
    trained = subprocess.run(
        [
            sys.executable,
            "-m",
            "imitlab.cli",
            "train",
            "--policy",
            "bc",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]

    viewer = serve("view", str(data))
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.goto(viewer.url)
    page.wait_for_function("window.imitlab.episode !== null")
    assert page.inner_text("#count") == "(3)"
    page.wait_for_function(
        "document.getElementById('camera').complete && document.getElementById('camera').naturalWidth === 64"
    )
    page.fill("#cursor", "5")
    page.dispatch_event("#cursor", "input")
    assert page.inner_text("#t") == "5"
    drawn = page.evaluate(
        "['state', 'action'].map((id) => { const c = document.getElementById(id);"
        " return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).some((v) => v > 0); })"
    )
    assert drawn == [True, True]
    screenshot(page, "view")
    page.close()


def test_a_second_teleop_on_the_same_dataset_is_refused_in_one_line(serve, tmp_path):
    pytest.importorskip("starlette")
    first = serve("teleop", "--env", "two-path-pixels", "--out", str(tmp_path / "mine"))
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "imitlab.cli",
            "teleop",
            "--env",
            "two-path-pixels",
            "--out",
            str(tmp_path / "mine"),
            "--port",
            "0",
            "--no-browser",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1
    assert "LockedError" in second.stderr and str(first.process.pid) in second.stderr


def test_an_env_without_a_camera_or_control_is_refused_naming_the_drivable_ones(tmp_path):
    from imitlab.core.errors import InvalidInputError
    from imitlab.teleop.session import RecordingSession

    with pytest.raises(
        InvalidInputError, match="cannot be driven from the browser .* drivable envs: .*two-path-pixels"
    ):
        RecordingSession("pendulum", tmp_path / "mine")


def test_a_person_takes_over_a_running_policy_and_retrains_it(browser, serve, tmp_path):
    """HG-DAgger: the policy drives; holding the mouse button hands control to the person, whose steps alone are
    kept as labels in the aggregated data; retrain trains and evaluates the next round in the background, recorded
    in rounds.jsonl as imitlab dagger records its rounds."""
    import json

    from imitlab.cli import main

    demos, run, out = tmp_path / "demos", tmp_path / "run", tmp_path / "takeover"
    main(["collect", "--env", "two-path-pixels", "--episodes", "2", "--out", str(demos), "--seed", "0"])
    main(["train", "--policy", "bc", "--data", str(demos), "--out", str(run), "--steps", "3"])
    base_frames = load_dataset(demos).num_frames
    app = serve(
        "teleop", "--env", "two-path-pixels", "--out", str(out), "--checkpoint", str(run), "--eval-episodes", "2"
    )
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.goto(app.url)
    page.wait_for_function("window.imitlab.hello !== null && window.imitlab.status !== null")
    assert page.inner_text("#driver") == "the policy drives"
    box = page.locator("#view").bounding_box()
    # the robot starts just below the obstacle: the person steers it left, along the obstacle's lower side
    page.mouse.move(
        float(box["x"] + 0.03 * box["width"]), float(box["y"] + (BOUND + 0.65) / (2 * BOUND) * box["height"])
    )
    page.mouse.down()
    page.wait_for_function("window.imitlab.status.person === true")
    frames = page.evaluate("window.imitlab.frames")
    page.wait_for_function(f"window.imitlab.frames > {frames + 4}")
    page.mouse.up()
    page.wait_for_function("window.imitlab.status.done === true", timeout=30_000)
    page.click("#keep")
    page.wait_for_function("window.imitlab.status.kept === 1")
    labels = page.evaluate("window.imitlab.status.kept_lengths[0]")
    assert labels >= 4  # the steps the person drove, and only those
    page.click("#retrain")
    page.wait_for_function("document.getElementById('retrain-status').textContent.includes('success')", timeout=120_000)
    screenshot(page, "teleop-takeover")
    page.close()
    app.stop()

    data = load_dataset(out / "data")
    assert data.num_frames == base_frames + labels and data.num_episodes == 3
    (record,) = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    assert record["round"] == 1 and record["person_labels"] == labels and record["evaluated"] == 2
    assert (out / "round-1" / "model.safetensors").is_file()


def test_the_keyboard_drives_meta_worlds_arm_and_the_kept_steps_hold_the_keys(browser, serve, tmp_path):
    """Held keys become (dx, dy, dz, gripper): ArrowRight then space, kept mid-episode."""
    pytest.importorskip("metaworld")
    data = tmp_path / "arm"
    app = serve("teleop", "--env", "metaworld/reach-pixels", "--out", str(data))
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.goto(app.url)
    page.wait_for_function("window.imitlab.hello !== null && window.imitlab.frames > 0")
    assert page.evaluate("window.imitlab.hello.device") == "keys"
    for key in ("ArrowRight", " "):
        page.keyboard.down(key)
        step = page.evaluate("window.imitlab.status.step")
        page.wait_for_function(f"window.imitlab.status.step >= {step + 6}")  # an input lands a step or two late
        page.keyboard.up(key)
    page.click("#keep")
    page.wait_for_function("window.imitlab.status.kept === 1")
    page.close()
    app.stop()
    action = load_dataset(data).action
    assert (action[:, 0] == 1).sum() >= 3 and (action[:, 3] == 1).sum() >= 3  # right, then the gripper closed
    assert set(np.unique(action[:, 1])) == {0.0} and set(np.unique(action[:, 3])) == {-1.0, 1.0}
