"""What every registered head promises, checked for each registry entry (a new head is covered without editing a
list): it trains a few steps on a dataset, saves and reloads to the same predictions, round-trips its config, and,
when it declares a runtime head, its export samples the same chunks as the eager policy for the same noise."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from imitlab.core import keys
from imitlab.policies.base import POLICIES
from imitlab.training.checkpoint import load_policy
from imitlab.training.train import train_policy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from test_parity import TorchDraws  # noqa: E402  (the runtime's draws in eager's order)

# small sizes by config field name (not by head), applied where a head's config has the field
SMALL_FIELDS = {
    "hidden_dim": 16,
    "num_layers": 2,
    "n_components": 3,
    "down_dims": (8, 16),
    "n_groups": 4,
    "time_embed_dim": 16,
    "d_model": 16,
    "n_heads": 2,
    "n_layers": 1,
    "dim_feedforward": 32,
    "latent_dim": 4,
    "n_encoder_layers": 1,
    "n_decoder_layers": 1,
    "n_bins": 16,
}
CHUNK_FIELDS = {"horizon": 4, "n_action_steps": 2}  # for heads that predict chunks by default
pytestmark = pytest.mark.parametrize("name", POLICIES.names())


def small_fields(name: str) -> dict:
    config_class = POLICIES.get(name).config_class
    fields = {f.name for f in dataclasses.fields(config_class)}
    chunked = CHUNK_FIELDS if config_class.horizon > 1 else {}
    return {k: v for k, v in {**SMALL_FIELDS, **chunked}.items() if k in fields}


@pytest.fixture
def trained(name, small_dataset_dir, tmp_path):
    """(policy trained 3 steps on a 6-episode dataset, its run directory)."""
    out = tmp_path / "run"
    train_overrides = {"steps": 3, "batch_size": 8, "log_every": 1, "save_every": 3}
    policy = train_policy(name, small_dataset_dir, out, small_fields(name), train_overrides, progress=False)
    return policy, out


def observation(policy, batch: int = 3) -> torch.Tensor:
    c = policy.config
    return torch.randn(batch, c.n_obs_steps, c.obs_dim, generator=torch.Generator().manual_seed(1))


def history(policy, batch: int = 3) -> dict:
    """Zeros for the extra history a sequence head takes (dt's actions and returns-to-go)."""
    c = policy.config
    shapes = {keys.HISTORY_ACTION: (batch, c.n_obs_steps, c.act_dim), keys.HISTORY_RETURN_TO_GO: (batch, c.n_obs_steps)}
    return {key: torch.zeros(shapes[key]) for key in policy.history_inputs}


def test_the_head_trains_saves_and_reloads_to_the_same_chunks(name, trained):
    policy, run = trained
    assert (run / "model.safetensors").is_file() and (run / "config.json").is_file()
    reloaded = load_policy(run)
    assert type(reloaded) is type(policy) and reloaded.config == policy.config
    obs, extra = observation(policy), history(policy)
    first = policy.eval().predict_chunk(obs, generator=torch.Generator().manual_seed(3), **extra)
    again = reloaded.predict_chunk(obs, generator=torch.Generator().manual_seed(3), **extra)
    assert first.shape == (3, policy.config.horizon, policy.config.act_dim)
    torch.testing.assert_close(first, again)


def test_the_config_round_trips_through_its_dict(name, trained):
    policy, _ = trained
    config = policy.config
    assert type(config)(**config.to_dict()) == config


def test_an_exportable_head_samples_what_the_eager_policy_samples(name, trained, tmp_path):
    """(A head without a runtime head is refused by the exporter with the list of exportable heads.)"""
    pytest.importorskip("onnxruntime")
    from imitlab.deploy.export import export_policy
    from imitlab.deploy.manifest import DeployError
    from imitlab.deploy.runtime import load

    policy, _ = trained
    if policy.runtime_head is None:
        with pytest.raises(DeployError, match="cannot be exported; exportable heads: "):
            export_policy(policy, tmp_path / "export")
        return
    deployed = load(export_policy(policy, tmp_path / "export").parent)
    obs = observation(policy)
    eager = policy.eval().predict_chunk(obs, generator=torch.Generator().manual_seed(7)).numpy()
    exported = deployed.predict_chunk(obs.numpy(), TorchDraws(7))
    assert np.abs(exported - eager).max() <= 1e-4
