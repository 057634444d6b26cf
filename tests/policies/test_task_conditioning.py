"""Multi-task policies: every registered head conditions on the task of a dataset with several, through the same
path as its observation, saves its task table, exports it, and learns what differs between tasks; a single-task
dataset trains exactly as before."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from imitlab.core import keys
from imitlab.core.errors import InvalidInputError
from imitlab.data.model import Episode
from imitlab.data.writer import write_dataset
from imitlab.evaluation.execution import ChunkExecutor
from imitlab.policies.base import POLICIES
from imitlab.training.checkpoint import load_policy
from imitlab.training.train import train_policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from test_head_contract import history, small_fields  # noqa: E402
from test_parity import TorchDraws  # noqa: E402

TASKS = ["push the block left", "push the block right"]


def two_task_episodes(n: int = 8, length: int = 12) -> tuple[list[Episode], list[str]]:
    """The same observations in both tasks; the action is +1 in the first task and -1 in the second, so only the
    task tells them apart."""
    rng = np.random.default_rng(0)
    episodes, tasks = [], []
    for i in range(n):
        sign = 1.0 if i % 2 == 0 else -1.0
        obs = rng.normal(size=(length, 3)).astype(np.float32)
        action = np.full((length, 2), sign, dtype=np.float32) + 0.01 * rng.normal(size=(length, 2)).astype(np.float32)
        episodes.append(Episode(obs, action, np.zeros(length, np.float32), np.zeros(length, bool)))
        tasks.append(TASKS[i % 2])
    return episodes, tasks


@pytest.fixture(scope="module")
def two_task_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks") / "data"
    episodes, tasks = two_task_episodes()
    write_dataset(root, episodes, fps=10, task=tasks, obs_names=["a", "b", "c"], action_names=["u", "v"])
    return root


def task_obs(policy, task: int, batch: int = 3) -> dict:
    c = policy.config
    state = torch.randn(batch, c.n_obs_steps, c.obs_dim, generator=torch.Generator().manual_seed(1))
    return {keys.OBS: state, keys.TASK_INDEX: torch.full((batch,), task, dtype=torch.long)}


@pytest.mark.parametrize("name", POLICIES.names())
def test_every_head_conditions_on_the_task_saves_the_table_and_exports_it(name, two_task_dir, tmp_path):
    run = tmp_path / "run"
    overrides = {"steps": 3, "batch_size": 8, "log_every": 1, "save_every": 3}
    if not POLICIES.get(name).takes_task:
        with pytest.raises(InvalidInputError, match=f"{name} acts on one task's state alone, and this dataset has 2"):
            train_policy(name, two_task_dir, run, small_fields(name), overrides, progress=False)
        return
    policy = train_policy(name, two_task_dir, run, small_fields(name), overrides, progress=False).eval()
    assert policy.tasks == tuple(TASKS)
    assert json.loads((run / "config.json").read_text())["policy_config"]["tasks"] == TASKS
    reloaded = load_policy(run)
    assert reloaded.config == policy.config
    extra = history(policy)
    chunks = [
        policy.predict_chunk(task_obs(policy, t), generator=torch.Generator().manual_seed(3), **extra) for t in (0, 1)
    ]
    again = reloaded.predict_chunk(task_obs(policy, 1), generator=torch.Generator().manual_seed(3), **extra)
    torch.testing.assert_close(chunks[1], again)
    assert not torch.allclose(chunks[0], chunks[1])  # the same state and noise, another task: another chunk
    with pytest.raises(InvalidInputError, match="obs has no task_index"):
        policy.predict_chunk({keys.OBS: task_obs(policy, 0)[keys.OBS]}, **extra)
    if policy.runtime_head is None:
        return
    pytest.importorskip("onnxruntime")
    from imitlab.deploy.export import export_policy
    from imitlab.deploy.runtime import load

    deployed = load(export_policy(policy, tmp_path / "export").parent)
    assert deployed.tasks == tuple(TASKS)
    state = task_obs(policy, 1)[keys.OBS].numpy()
    eager = policy.predict_chunk(task_obs(policy, 1), generator=torch.Generator().manual_seed(7)).numpy()
    exported = deployed.predict_chunk({keys.OBS: state, "task": TASKS[1]}, TorchDraws(7))
    assert np.abs(exported - eager).max() <= 1e-4
    with pytest.raises(InvalidInputError, match=r"unknown task 'stack the blocks'; its tasks: 'push the block left'"):
        deployed.predict_chunk({keys.OBS: state, "task": "stack the blocks"}, TorchDraws(7))


def test_bc_learns_what_only_the_task_tells_apart_and_pooled_bc_cannot(two_task_dir, tmp_path):
    """Same observations, opposite actions: conditioned on the task, bc's error is near the noise; pooled (no
    task), it predicts their mean, an error of about 1 per dimension."""
    overrides = {"steps": 300, "batch_size": 32, "lr": 3e-3, "log_every": 100, "save_every": 300}
    fields = {"hidden_dim": 32}
    conditioned = train_policy("bc", two_task_dir, tmp_path / "tasks", fields, overrides, progress=False).eval()
    pooled = train_policy(
        "bc", two_task_dir, tmp_path / "pooled", {**fields, "tasks": ()}, overrides, progress=False
    ).eval()
    errors = {}
    for label, policy in (("conditioned", conditioned), ("pooled", pooled)):
        total = 0.0
        for t, sign in ((0, 1.0), (1, -1.0)):
            obs = task_obs(policy, t, batch=64)
            with torch.no_grad():
                chunk = policy.predict_chunk(obs if policy.tasks else obs[keys.OBS])
            total += float(((chunk - sign) ** 2).mean()) / 2
        errors[label] = total
    assert errors["conditioned"] < 0.05 and errors["pooled"] > 0.5, errors


def test_the_executor_acts_on_a_named_task_and_refuses_an_unknown_one_listing_the_known(two_task_dir, tmp_path):
    overrides = {"steps": 2, "batch_size": 8, "log_every": 1, "save_every": 2}
    policy = train_policy("bc", two_task_dir, tmp_path / "run", {"hidden_dim": 16}, overrides, progress=False)
    with pytest.raises(InvalidInputError, match=r"unknown task 'stack'; its tasks: 'push the block left', 'push"):
        ChunkExecutor(policy, task="stack")
    with pytest.raises(InvalidInputError, match="no task was given"):
        ChunkExecutor(policy)
    executor = ChunkExecutor(policy, task=TASKS[1])
    executor.reset(np.arange(2))
    assert executor.act(np.zeros((2, 3), np.float32)).shape == (2, 2)


def test_a_single_task_dataset_trains_exactly_as_before(small_dataset_dir, tmp_path):
    """No task fields in config.json and no task parameters: the same weights as a config without the feature."""
    overrides = {"steps": 3, "batch_size": 8, "log_every": 1, "save_every": 3}
    policy = train_policy(
        "diffusion", small_dataset_dir, tmp_path / "run", small_fields("diffusion"), overrides, progress=False
    )
    config = json.loads((tmp_path / "run" / "config.json").read_text())["policy_config"]
    assert "tasks" not in config and "task_embed_dim" not in config
    assert not policy.tasks and not any("task" in name for name, _ in policy.named_parameters())


def test_the_deploy_loader_checks_the_task_table(two_task_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    from imitlab.deploy.export import export_policy
    from imitlab.deploy.manifest import DeployError
    from imitlab.deploy.runtime import load

    overrides = {"steps": 2, "batch_size": 8, "log_every": 1, "save_every": 2}
    policy = train_policy("bc", two_task_dir, tmp_path / "run", {"hidden_dim": 16}, overrides, progress=False)
    manifest_path = export_policy(policy, tmp_path / "export")
    manifest = json.loads(manifest_path.read_text())
    for tasks, message in (
        ([TASKS[0], TASKS[0]], "lists a task twice"),
        ([TASKS[0], 3], r"tasks\[1\] must be a task string"),
        ("push", "must be a list of at most"),
    ):
        manifest["policy_config"]["tasks"] = tasks
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(DeployError, match=message):
            load(manifest_path.parent)
