"""Data-parallel training under torchrun (gloo, 2 CPU processes): the same optimisation as one process with the
same effective batch, exact resume, and a checkpoint that `imitlab eval` loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from imitlab.data.collect import collect
from imitlab.data.reader import load_dataset
from imitlab.data.sampler import ChunkSampler
from imitlab.training.checkpoint import load_policy
from imitlab.training.distributed import World, resolve_device, sample_shard

TRAIN = {"steps": 300, "batch_size": 32, "save_every": 100, "log_every": 25, "warmup_steps": 20, "seed": 3}
SCRIPT = textwrap.dedent("""
    import json, sys
    from imitlab.data.sampler import ChunkSampler
    from imitlab.training.train import train_policy

    data, out, train, crash_after, resume = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), \\
        sys.argv[5] == "resume"
    if crash_after:  # every rank stops after this many batches, as a killed job would
        get, calls = ChunkSampler.get, [0]
        def crashing_get(self, indices):
            calls[0] += 1
            if calls[0] > crash_after:
                raise SystemExit(3)
            return get(self, indices)
        ChunkSampler.get = crashing_get
    train_policy("chunked-bc", data, out, {"horizon": 4, "hidden_dim": 32}, train, resume=resume, progress=False)
""")


def torchrun(tmp_path, *args, check=True):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(script),
        *map(str, args),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=check, timeout=300)


def losses(run):
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_world_of_one_samples_exactly_what_the_sampler_does(small_dataset_dir):
    sampler = ChunkSampler(load_dataset(small_dataset_dir), 1, 4)
    alone = sampler.sample(8, torch.Generator().manual_seed(0))
    sharded = sample_shard(sampler, 8, torch.Generator().manual_seed(0), World())
    for key in alone:
        torch.testing.assert_close(sharded[key], alone[key], rtol=0, atol=0)


def test_device_auto_is_the_cpu_without_cuda_and_cuda_without_a_gpu_says_why(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        resolve_device("tpu")


def test_device_auto_picks_this_ranks_gpu_under_torchrun(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("auto") == torch.device("cuda", 3)


def test_ranks_split_one_step_draws_into_disjoint_shards(small_dataset_dir):
    sampler = ChunkSampler(load_dataset(small_dataset_dir), 1, 4)
    alone = sampler.sample(8, torch.Generator().manual_seed(0))
    shards = [sample_shard(sampler, 8, torch.Generator().manual_seed(0), World(rank, 2)) for rank in range(2)]
    for key in alone:
        torch.testing.assert_close(shards[0][key], alone[key][0::2], rtol=0, atol=0)
        torch.testing.assert_close(shards[1][key], alone[key][1::2], rtol=0, atol=0)
    with pytest.raises(ValueError, match="divisible by the 3 processes"):
        sample_shard(sampler, 8, torch.Generator(), World(0, 3))


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_resumes_exactly_and_evaluates(tmp_path):
    data = tmp_path / "data"
    collect("pendulum", 6, data, seed=0)
    one, ddp, cut = tmp_path / "one", tmp_path / "ddp", tmp_path / "cut"
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data), str(one), json.dumps(TRAIN), "0", "fresh"],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
        timeout=300,
    )
    log = torchrun(tmp_path, data, ddp, json.dumps(TRAIN), 0, "fresh").stdout

    assert "effective batch 32 = 2 x 16 per rank" in log
    assert json.loads((ddp / "config.json").read_text())["data_parallel"]["effective_batch_size"] == 32
    single, parallel = losses(one), losses(ddp)
    assert len(single) == len(parallel) == TRAIN["steps"] // TRAIN["log_every"]
    # not bit for bit: DDP averages the two ranks' masked means (padded chunk steps split unevenly between ranks)
    # where one process takes one masked mean over the whole batch; float sums also run in another order
    torch.testing.assert_close(torch.tensor(parallel), torch.tensor(single), rtol=0.05, atol=0)
    assert parallel[-1] < 0.5 * parallel[0]  # it learned, and the curves agree along the way
    one_w, ddp_w = load_policy(one).state_dict(), load_policy(ddp).state_dict()
    for key in one_w:
        assert (ddp_w[key] - one_w[key]).norm() <= 0.1 * one_w[key].norm(), key

    stopped = torchrun(tmp_path, data, cut, json.dumps(TRAIN), 150, "fresh", check=False)
    assert stopped.returncode != 0 and json.loads((cut / "config.json").read_text())["step"] == 100
    torchrun(tmp_path, data, cut, json.dumps(TRAIN), 0, "resume")
    cut_w = load_policy(cut).state_dict()
    for key in ddp_w:
        torch.testing.assert_close(cut_w[key], ddp_w[key], rtol=0, atol=0, msg=key)
    assert losses(cut) == pytest.approx(parallel, rel=0, abs=0)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "imitlab.cli",
            "eval",
            "--checkpoint",
            str(ddp),
            "--episodes",
            "4",
            "--json",
            str(tmp_path / "eval.json"),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert json.loads((tmp_path / "eval.json").read_text())["episodes"] == 4, result.stdout
