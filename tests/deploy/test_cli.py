"""``imitlab export`` writes the graphs and the manifest; ``--set`` changes inference settings before export."""

from __future__ import annotations

import json

import pytest
import torch

from imitlab.cli import main
from imitlab.deploy.compiled import compile_policy
from imitlab.deploy.manifest import MANIFEST_FILE
from imitlab.deploy.runtime import load
from imitlab.policies.base import create_policy
from imitlab.training.checkpoint import placeholder_stats, save_policy

SMALL_UNET = {"down_dims": (8, 16), "n_groups": 4, "time_embed_dim": 16, "horizon": 4, "n_action_steps": 2}


def diffusion_run(root):
    torch.manual_seed(0)
    policy = create_policy("diffusion", placeholder_stats(2, 2), obs_dim=2, act_dim=2, **SMALL_UNET)
    save_policy(root / "run", policy, {"env": "two-path"})
    return root / "run"


def test_export_writes_the_graphs_and_a_manifest_with_the_env_and_the_set_sampler_settings(tmp_path, capsys):
    run = diffusion_run(tmp_path)
    main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "out"), "--set", "num_inference_steps=3"])
    graphs = ["condition.onnx", "denoiser.onnx", "time_film.onnx"]  # the U-Net's three parts (unet_graph.py)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([*graphs, MANIFEST_FILE])
    manifest = json.loads((tmp_path / "out" / MANIFEST_FILE).read_text())
    assert manifest["env"] == "two-path" and manifest["policy"] == "diffusion"
    assert manifest["sampler"]["timesteps"] == [99, 65, 32]  # trailing spacing over N = 100
    assert load(tmp_path / "out").env == "two-path"
    assert "exported" in capsys.readouterr().out


def test_exporting_again_replaces_the_previous_export(tmp_path):
    run = diffusion_run(tmp_path)
    for steps in (3, 5):
        main(
            [
                "export",
                "--checkpoint",
                str(run),
                "--out",
                str(tmp_path / "out"),
                "--set",
                f"num_inference_steps={steps}",
            ]
        )
    assert len(load(tmp_path / "out").sampler["timesteps"]) == 5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging directory left


@pytest.mark.slow
def test_a_compiled_policy_predicts_the_eager_chunks(tmp_path):
    policy = create_policy("diffusion", placeholder_stats(2, 2), obs_dim=2, act_dim=2, **SMALL_UNET).eval()
    compiled = compile_policy(policy)
    obs = torch.randn(3, 2, 2)
    with torch.inference_mode():
        eager = policy.predict_chunk(obs, generator=torch.Generator().manual_seed(0))
        fast = compiled.predict_chunk(obs, generator=torch.Generator().manual_seed(0))
    assert (fast - eager).abs().max() <= 1e-4
