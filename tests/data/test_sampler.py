"""ChunkSampler boundary rules: history repeats frame 0, chunks never cross an episode's end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imitlab.core import keys
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.sampler import ChunkSampler


def tagged_dataset(lengths) -> EpisodeDataset:
    """Every frame's observation and action encode (episode, frame) so a test can tell where a value came from."""
    episodes = []
    for e, t in enumerate(lengths):
        frame = np.arange(t, dtype=np.float32)
        tag = np.stack([np.full(t, e, np.float32), frame], axis=1)  # (T, 2): episode, frame
        episodes.append(
            Episode(
                observation=np.concatenate([tag, frame[:, None] * 0.5], axis=1),  # (T, 3)
                action=tag + np.array([0.0, 1000.0], np.float32),  # (T, 2), distinct from observations
                reward=np.ones(t, np.float32),
                success=np.zeros(t, bool),
            )
        )
    return EpisodeDataset.from_episodes(episodes, fps=10, task="t")


@st.composite
def sampler_cases(draw):
    lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    n_obs = draw(st.integers(1, 4))
    horizon = draw(st.integers(1, 10))
    starts = draw(st.lists(st.integers(0, sum(lengths) - 1), min_size=1, max_size=16))
    return lengths, n_obs, horizon, np.array(starts, dtype=np.int64)


@settings(max_examples=150, deadline=None)
@given(sampler_cases())
def test_chunks_follow_the_boundary_rules(case):
    lengths, n_obs, horizon, starts = case
    ds = tagged_dataset(lengths)
    sampler = ChunkSampler(ds, n_obs_steps=n_obs, horizon=horizon)
    batch = sampler.get(starts)
    obs, action, pad = batch[keys.OBS].numpy(), batch[keys.ACTION].numpy(), batch[keys.ACTION_IS_PAD].numpy()
    assert obs.shape == (len(starts), n_obs, 3) and action.shape == (len(starts), horizon, 2)
    for b, s in enumerate(starts):
        e = ds.episode_index[s]
        first, last = ds.episode_starts[e], ds.episode_ends[e] - 1
        # The action chunk never contains an action from another episode.
        assert (action[b, :, 0] == e).all()
        for k in range(horizon):
            if s + k <= last:  # unpadded steps are the dataset's actions at start + k
                assert not pad[b, k]
                np.testing.assert_array_equal(action[b, k], ds.action[s + k])
            else:  # pads repeat the episode's last action and are flagged exactly there
                assert pad[b, k]
                np.testing.assert_array_equal(action[b, k], ds.action[last])
        assert pad[b].sum() == max(0, s + horizon - 1 - last)
        # Observation history ends at the start frame; before the episode's first frame it repeats frame 0.
        for k in range(n_obs):
            want = max(s - (n_obs - 1) + k, first)
            np.testing.assert_array_equal(obs[b, k], ds.observation[want])
        assert (obs[b, :, 0] == e).all()
        np.testing.assert_array_equal(obs[b, -1], ds.observation[s])
        assert batch[keys.RETURN_TO_GO][b].item() == pytest.approx(last - s + 1)  # reward 1 per frame
    np.testing.assert_array_equal(batch["index"].numpy(), starts)


def test_every_frame_is_a_chunk_start():
    ds = tagged_dataset([3, 1, 5])
    sampler = ChunkSampler(ds, n_obs_steps=2, horizon=4)
    assert len(sampler) == ds.num_frames == 9
    batch = sampler.get(np.arange(9))
    assert batch[keys.OBS].shape == (9, 2, 3)


def test_batch_dtypes_and_tensor_indices():
    sampler = ChunkSampler(tagged_dataset([4, 6]), n_obs_steps=2, horizon=3)
    batch = sampler.get(torch.tensor([0, 9]))
    assert batch[keys.OBS].dtype == torch.float32 and batch[keys.ACTION].dtype == torch.float32
    assert batch[keys.ACTION_IS_PAD].dtype == torch.bool and batch[keys.RETURN_TO_GO].dtype == torch.float32
    assert batch["index"].dtype == torch.int64
    assert batch[keys.ACTION_IS_PAD][1].tolist() == [False, True, True]


def test_sample_is_reproducible_with_a_generator():
    sampler = ChunkSampler(tagged_dataset([5, 7, 3]), n_obs_steps=2, horizon=4)
    a = sampler.sample(32, torch.Generator().manual_seed(3))
    b = sampler.sample(32, torch.Generator().manual_seed(3))
    for key in a:
        assert torch.equal(a[key], b[key])
    assert a[keys.OBS].shape == (32, 2, 3)


def test_out_of_range_start_is_refused():
    sampler = ChunkSampler(tagged_dataset([3]), n_obs_steps=1, horizon=2)
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        sampler.get(np.array([3]))
    with pytest.raises(ValueError, match="horizon"):
        ChunkSampler(tagged_dataset([3]), n_obs_steps=1, horizon=0)


def test_history_carries_actions_and_returns_to_go_with_zeros_before_the_episode():
    ds = tagged_dataset([3, 4])
    batch = ChunkSampler(ds, n_obs_steps=3, horizon=1).get(np.array([0, 4, 6]))
    # frame 0 (episode 0 frame 0): two positions before the episode, then frame 0
    np.testing.assert_array_equal(batch[keys.HISTORY_IS_PAD][0].numpy(), [True, True, False])
    np.testing.assert_array_equal(batch[keys.HISTORY_ACTION][0, :2].numpy(), 0.0)
    np.testing.assert_array_equal(batch[keys.HISTORY_ACTION][0, 2].numpy(), ds.action[0])
    np.testing.assert_array_equal(batch[keys.HISTORY_RETURN_TO_GO][0].numpy(), [3, 3, 3])  # frame 0's, repeated
    # frame 4 (episode 1 frame 1): one position before the episode
    np.testing.assert_array_equal(batch[keys.HISTORY_IS_PAD][1].numpy(), [True, False, False])
    np.testing.assert_array_equal(batch[keys.HISTORY_ACTION][1, 1:].numpy(), ds.action[3:5])
    np.testing.assert_array_equal(batch[keys.HISTORY_RETURN_TO_GO][1].numpy(), [4, 4, 3])
    # frame 6 (episode 1 frame 3): a full history; its last action is the chunk's first
    assert not batch[keys.HISTORY_IS_PAD][2].any()
    np.testing.assert_array_equal(batch[keys.HISTORY_ACTION][2, -1].numpy(), batch[keys.ACTION][2, 0].numpy())
