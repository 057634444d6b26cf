"""Bad input gives one error that names the file at fault."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from imitlab.cli import main
from imitlab.deploy.export import export_policy
from imitlab.deploy.manifest import FORMAT_VERSION, MANIFEST_FILE, DeployError
from imitlab.deploy.runtime import load
from imitlab.policies.base import create_policy
from imitlab.training.checkpoint import MODEL_FILE, placeholder_stats, save_policy


def small_policy(name: str = "chunked-bc", obs_dim: int = 3, **fields):
    torch.manual_seed(0)
    fields = {"horizon": 4, "n_action_steps": 2, **({} if name == "diffusion" else {"hidden_dim": 16}), **fields}
    return create_policy(name, placeholder_stats(obs_dim, 2), obs_dim=obs_dim, act_dim=2, **fields)


@pytest.fixture
def export_dir(tmp_path):
    return export_policy(small_policy(), tmp_path / "export").parent


def test_exporting_a_run_without_a_checkpoint_names_the_missing_weights_file(tmp_path, capsys):
    save_policy(tmp_path / "run", small_policy(), {"env": "two-path"})
    (tmp_path / "run" / MODEL_FILE).unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "export")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "run" / MODEL_FILE) in err
    assert not (tmp_path / "export").exists()


def test_exporting_a_directory_that_is_not_a_run_names_its_missing_config(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["export", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "export")])
    assert str(tmp_path / "config.json") in capsys.readouterr().err


def test_a_head_without_an_exporter_is_refused_with_the_exportable_heads():
    policy = create_policy("dt", placeholder_stats(3, 2), obs_dim=3, act_dim=2, d_model=16, n_layers=1)
    with pytest.raises(DeployError, match="'dt' cannot be exported; exportable heads: act, bc, chunked-bc"):
        export_policy(policy, "unused")


def test_loading_a_directory_without_its_manifest_names_the_manifest(tmp_path):
    with pytest.raises(DeployError, match=re.escape(str(tmp_path / MANIFEST_FILE))):
        load(tmp_path)


def test_loading_an_export_with_a_missing_graph_names_the_graph_file(export_dir):
    (export_dir / "net.onnx").unlink()
    with pytest.raises(DeployError, match=re.escape(f"{export_dir / 'net.onnx'} not found")):
        load(export_dir)


def test_a_graph_file_that_is_not_onnx_is_named(export_dir):
    (export_dir / "net.onnx").write_bytes(b"not a graph")
    with pytest.raises(DeployError, match=re.escape(f"{export_dir / 'net.onnx'} is not a loadable ONNX graph")):
        load(export_dir)


def test_a_graph_that_does_not_match_its_config_names_the_graph_file(export_dir, tmp_path):
    other = export_policy(small_policy(obs_dim=5), tmp_path / "other").parent  # a graph for 5-d observations
    (export_dir / "net.onnx").write_bytes((other / "net.onnx").read_bytes())
    with pytest.raises(DeployError, match=re.escape(f"{export_dir / 'net.onnx'} does not match its config")):
        load(export_dir)


def test_a_config_edited_after_export_no_longer_matches_its_graph(export_dir):
    manifest = json.loads((export_dir / MANIFEST_FILE).read_text())
    manifest["policy_config"]["horizon"] = 5
    (export_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match=re.escape(f"{export_dir / 'net.onnx'} does not match its config")):
        load(export_dir)


def test_an_export_of_an_older_format_version_is_refused_with_a_request_to_re_export(export_dir):
    manifest = json.loads((export_dir / MANIFEST_FILE).read_text())
    manifest["format_version"] = FORMAT_VERSION - 1
    (export_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    expected = (
        f"{export_dir / MANIFEST_FILE}: format_version is {FORMAT_VERSION - 1}, this runtime reads {FORMAT_VERSION}"
    )
    with pytest.raises(DeployError, match=re.escape(expected) + ".*re-export the run"):
        load(export_dir)


@pytest.mark.parametrize("graph", ["condition", "time_film", "denoiser"])
def test_a_unet_denoiser_graph_from_another_shape_names_the_graph_file(tmp_path, graph):
    def diffusion_export(root, horizon):
        fields = {"horizon": horizon, "n_action_steps": 2, "down_dims": (8, 16), "n_groups": 4, "time_embed_dim": 8}
        policy = create_policy("diffusion", placeholder_stats(3, 2), obs_dim=3, act_dim=2, **fields)
        return export_policy(policy, root).parent

    export, other = diffusion_export(tmp_path / "export", 4), diffusion_export(tmp_path / "other", 8)
    (export / f"{graph}.onnx").write_bytes((other / f"{graph}.onnx").read_bytes())
    with pytest.raises(DeployError, match=re.escape(f"{export / f'{graph}.onnx'} does not match its config")):
        load(export)


def test_normalisation_statistics_of_the_wrong_size_are_named(export_dir):
    manifest = json.loads((export_dir / MANIFEST_FILE).read_text())
    manifest["normalization"]["action"]["scale"] = [1.0]
    (export_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match=r"deploy\.json: normalization\.action\.scale must hold 2 numbers"):
        load(export_dir)


def test_an_observation_history_of_the_wrong_shape_is_refused_with_the_expected_shape(export_dir):
    import numpy as np

    with pytest.raises(ValueError, match=r"obs must be \(B, 1, 3\), got \(4, 3\)"):
        load(export_dir).predict_chunk(np.zeros((4, 3), np.float32), np.random.default_rng(0))


CAMERA = "observation.images.top"


def camera_export(root, size: int = 16, feature_dim: int = 8):
    """An exported chunked-bc policy that sees one camera of size x size frames."""
    vision = {"backbone": "small", "crop_shape": None, "num_keypoints": 4, "feature_dim": feature_dim}
    policy = small_policy(image_shapes={CAMERA: (size, size)}, vision=vision)
    return export_policy(policy, root).parent


def test_loading_a_camera_export_without_its_encoder_graph_names_the_encoder_file(tmp_path):
    export = camera_export(tmp_path / "export")
    (export / "encoder.onnx").unlink()
    with pytest.raises(DeployError, match=re.escape(f"{export / 'encoder.onnx'} not found")):
        load(export)


@pytest.mark.parametrize("other", [{"size": 20}, {"feature_dim": 6}], ids=["frame-size", "feature-width"])
def test_an_encoder_graph_that_does_not_match_its_config_names_the_encoder_file(tmp_path, other):
    export, mismatched = camera_export(tmp_path / "export"), camera_export(tmp_path / "other", **other)
    (export / "encoder.onnx").write_bytes((mismatched / "encoder.onnx").read_bytes())
    with pytest.raises(DeployError, match=re.escape(f"{export / 'encoder.onnx'} does not match its config")):
        load(export)


def test_a_camera_policy_refuses_a_state_array_and_frames_that_are_not_uint8_naming_the_camera(tmp_path):
    import numpy as np

    deployed, rng = load(camera_export(tmp_path / "export")), np.random.default_rng(0)
    state = np.zeros((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match=f"takes {CAMERA} besides the state: obs must be a dict"):
        deployed.predict_chunk(state, rng)
    frames = np.zeros((2, 1, 3, 16, 16), np.float32)
    with pytest.raises(ValueError, match=re.escape(f"{CAMERA} must be (B=2, 1, 3, 16, 16) uint8, got")):
        deployed.predict_chunk({"observation.state": state, CAMERA: frames}, rng)


# ---------------------------------------------------------------------------------------------------------------
# a deploy.json that lies (docs/reliability.md): each is one DeployError naming the key, before anything is built


def edited(export_dir, change) -> None:
    manifest = json.loads((export_dir / MANIFEST_FILE).read_text())
    change(manifest)
    (export_dir / MANIFEST_FILE).write_text(json.dumps(manifest))


@pytest.mark.parametrize("file", ["../net.onnx", "/tmp/net.onnx", "sub/net.onnx", ".."])
def test_a_graph_file_outside_the_export_directory_is_refused(export_dir, tmp_path, file):
    outside = tmp_path / "net.onnx"
    outside.write_bytes((export_dir / "net.onnx").read_bytes())
    edited(export_dir, lambda m: m["graphs"]["net"].update(file=file))
    with pytest.raises(DeployError, match=r"graphs\.net\.file must be a file name inside"):
        load(export_dir)


def test_a_graph_file_that_links_out_of_the_export_directory_is_refused(export_dir, tmp_path):
    (tmp_path / "elsewhere.onnx").write_bytes((export_dir / "net.onnx").read_bytes())
    (export_dir / "link.onnx").symlink_to(tmp_path / "elsewhere.onnx")
    edited(export_dir, lambda m: m["graphs"]["net"].update(file="link.onnx"))
    with pytest.raises(DeployError, match=r"graphs\.net\.file 'link\.onnx' leads out of"):
        load(export_dir)


@pytest.mark.parametrize("value, why", [(float("nan"), "must be finite"), (0.0, "must be > 0"), (-1.0, "must be > 0")])
def test_a_normalisation_scale_that_is_not_finite_and_positive_is_refused(export_dir, value, why):
    edited(export_dir, lambda m: m["normalization"]["action"]["scale"].__setitem__(1, value))
    with pytest.raises(DeployError, match=rf"normalization\.action\.scale\[1\] {why}"):
        load(export_dir)


def test_an_unknown_sampler_kind_is_refused_instead_of_running_ddpm(tmp_path):
    export_dir = export_policy(small_policy("diffusion", down_dims=(8, 16), n_groups=4), tmp_path / "dp").parent
    edited(export_dir, lambda m: m["sampler"].update(kind="euler"))
    with pytest.raises(DeployError, match=r"sampler\.kind is 'euler'; known: 'ddim', 'ddpm'"):
        load(export_dir)


def test_a_huge_list_in_the_config_is_refused_at_once(tmp_path):
    import time

    export_dir = export_policy(small_policy("diffusion", down_dims=(8, 16), n_groups=4), tmp_path / "dp").parent
    edited(export_dir, lambda m: m["policy_config"].update(down_dims=[8] * 100_000))
    started = time.perf_counter()
    with pytest.raises(DeployError, match=r"policy_config\.down_dims holds 100000 entries; at most 64"):
        load(export_dir)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda m: m.update(policy_config=[1, 2]), r"policy_config must be dict"),
        (lambda m: m["normalization"]["action"].update(scale="1"), r"normalization\.action\.scale must hold 2"),
        (lambda m: m["policy_config"].update(horizon="4"), r"policy_config\.horizon must be an integer"),
        (lambda m: m.update(graphs=None), r"graphs must be dict"),
        (
            lambda m: m["policy_config"].update(obs_dim=10**9),
            r"policy_config\.obs_dim must be an integer in \[1, 65536\]",
        ),
    ],
)
def test_wrong_json_types_and_sizes_are_one_deploy_error_naming_the_key(export_dir, change, key):
    edited(export_dir, change)
    with pytest.raises(DeployError, match=key):
        load(export_dir)


def test_an_export_from_a_newer_format_asks_for_a_newer_imitlab_not_a_re_export(export_dir):
    edited(export_dir, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(DeployError, match=r"format_version is \d+, this runtime reads \d+; upgrade imitlab to load it"):
        load(export_dir)


# ---------------------------------------------------------------------------------------------------------------
# export replaces only what it made, atomically (docs/reliability.md)


def export_cli(run, out, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--checkpoint", str(run), "--out", str(out)])
    return exit_info.value.code, capsys.readouterr().err.strip()


@pytest.fixture
def run_dir(tmp_path):
    save_policy(tmp_path / "work" / "run", small_policy(), {"env": "two-path"})
    return tmp_path / "work" / "run"


def test_export_refuses_to_replace_a_directory_that_is_not_an_export(run_dir, tmp_path, capsys):
    mine = tmp_path / "my-files"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, err = export_cli(run_dir, mine, capsys)
    assert code == 2 and "exists and is not an export (no deploy.json): refusing to replace it" in err
    assert (mine / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("out", ["run", "work", "."])
def test_export_refuses_the_run_itself_a_directory_holding_it_and_the_current_directory(
    run_dir, tmp_path, monkeypatch, capsys, out
):
    monkeypatch.chdir(run_dir.parent)
    target = {"run": run_dir, "work": run_dir.parent, ".": Path(".")}[out]
    code, err = export_cli(run_dir, target, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "give the export its own directory" in err
    assert (run_dir / "config.json").is_file() and (run_dir / MODEL_FILE).is_file()


def test_export_over_an_earlier_export_replaces_it(run_dir, tmp_path):
    out = tmp_path / "export"
    main(["export", "--checkpoint", str(run_dir), "--out", str(out)])
    main(["export", "--checkpoint", str(run_dir), "--out", str(out), "--set", "n_action_steps=1"])
    assert load(out).config["n_action_steps"] == 1


@pytest.mark.parametrize("failing_rename", [1, 2])
def test_a_crash_at_either_rename_of_the_swap_keeps_the_old_export(run_dir, tmp_path, monkeypatch, failing_rename):
    from imitlab.core import atomic_dir

    out = tmp_path / "export"
    main(["export", "--checkpoint", str(run_dir), "--out", str(out)])
    rename, calls = atomic_dir._rename, []

    def crashing(src, dst):
        calls.append(src)
        if len(calls) == failing_rename:
            raise OSError("simulated crash")
        rename(src, dst)

    monkeypatch.setattr(atomic_dir, "_rename", crashing)
    with pytest.raises(OSError, match="simulated crash"):
        export_policy(small_policy(n_action_steps=1), out)
    monkeypatch.setattr(atomic_dir, "_rename", rename)
    assert load(out).config["n_action_steps"] == 2  # the old export, whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export")] == []


def test_a_kill_between_the_two_renames_is_recovered_by_the_next_load(run_dir, tmp_path, monkeypatch):
    from imitlab.core import atomic_dir

    out = tmp_path / "export"
    main(["export", "--checkpoint", str(run_dir), "--out", str(out)])
    rename, calls = atomic_dir._rename, []

    def killed(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt  # not an Exception: no rollback runs, as after a kill -9
        rename(src, dst)

    monkeypatch.setattr(atomic_dir, "_rename", killed)
    with pytest.raises(KeyboardInterrupt):
        export_policy(small_policy(n_action_steps=1), out)
    monkeypatch.setattr(atomic_dir, "_rename", rename)
    assert not out.exists()  # the old export sits in its backup
    assert load(out).config["n_action_steps"] == 2


def test_the_staging_directory_of_a_killed_export_is_removed_by_the_next_export(run_dir, tmp_path):
    out = tmp_path / "export"
    killed = tmp_path / ".export.abc123"  # what a kill -9 mid-export leaves
    killed.mkdir()
    (killed / "net.onnx").write_bytes(b"half a graph")
    main(["export", "--checkpoint", str(run_dir), "--out", str(out)])
    assert not killed.exists() and load(out).config["horizon"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "work"]  # no lock file, staging or backup left
