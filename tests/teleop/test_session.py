"""The recording session without a browser: DART noise on the person's executed action, the clean one recorded."""

from __future__ import annotations

import numpy as np

from imitlab.data.reader import load_dataset
from imitlab.envs.two_path import BOUND, clip_speed
from imitlab.teleop.session import RecordingSession


def test_dart_noise_moves_the_robot_off_the_commanded_action_and_the_clean_action_is_recorded(tmp_path):
    session = RecordingSession("two-path-pixels", tmp_path / "data", noise=0.05)
    command = np.array([0.2, 0.9])  # down and to the left: away from the obstacle
    session.set_command(command)
    before = session.env.pos[0].copy()
    target = np.array([-BOUND + 2 * BOUND * command[0], BOUND - 2 * BOUND * command[1]])
    clean = clip_speed((target - before)[None])[0]
    session.step()
    moved = session.env.pos[0] - before
    np.testing.assert_allclose(session.steps[-1]["action"], clean, atol=1e-6)  # recorded: the person's command
    assert np.abs(moved - clean).max() > 1e-3  # executed: with the noise
    session.keep()
    np.testing.assert_allclose(load_dataset(tmp_path / "data").action[0], clean, atol=1e-6)
