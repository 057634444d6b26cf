"""A full disk under each writer is one DiskFullError naming the path, the bytes needed and the bytes free, and
what was there before is kept."""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest
import torch

from imitlab.core import io as core_io
from imitlab.core.diskspace import DiskFullError
from imitlab.deploy import export as export_module
from imitlab.deploy.export import export_policy
from imitlab.policies.base import create_policy
from imitlab.training.checkpoint import MODEL_FILE, placeholder_stats, save_policy


def policy():
    torch.manual_seed(0)
    return create_policy("bc", placeholder_stats(3, 2), obs_dim=3, act_dim=2, hidden_dim=16)


def filling_the_disk_after(nbytes: int):
    """A write function that writes ``nbytes`` to its file, then finds the disk full."""

    def write(path):
        Path(path).write_bytes(b"x" * nbytes)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    return write


def test_a_checkpoint_on_a_full_disk_names_the_file_and_the_bytes_its_tensors_need(tmp_path, monkeypatch):
    net = policy()
    save_policy(tmp_path, net, {"env": "x"})
    before = (tmp_path / MODEL_FILE).read_bytes()
    monkeypatch.setattr(
        "imitlab.training.checkpoint.save_file", lambda tensors, path: filling_the_disk_after(100)(path)
    )
    tensor_bytes = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    with pytest.raises(DiskFullError, match=rf"writing {re.escape(str(tmp_path / MODEL_FILE))}: it needs about "):
        save_policy(tmp_path, net, {"env": "x"})
    with pytest.raises(DiskFullError, match=rf"it needs about {tensor_bytes:,} bytes and [\d,]+ are free there"):
        save_policy(tmp_path, net, {"env": "x"})
    assert (tmp_path / MODEL_FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", MODEL_FILE]  # no temp file left


def test_a_json_file_on_a_full_disk_names_its_exact_size(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    data = {"key": "value"}
    size = len(b'{\n  "key": "value"\n}\n')
    real_replace = core_io.os.replace

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core_io.os, "replace", full)
    with pytest.raises(DiskFullError, match=rf"it needs about {size} bytes"):
        core_io.write_json(path, data)
    monkeypatch.setattr(core_io.os, "replace", real_replace)
    assert not list(tmp_path.iterdir())


def test_an_export_on_a_full_disk_names_the_export_and_what_it_had_written(tmp_path, monkeypatch):
    out = tmp_path / "export"
    export_policy(policy(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(
        export_module, "_export_graph", lambda module, signature, path: filling_the_disk_after(700)(path)
    )
    with pytest.raises(
        DiskFullError, match=rf"writing {re.escape(str(out))}: it needs more than the 700 bytes it had written"
    ):
        export_policy(policy(), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # the staging directory is gone
