import numpy as np
import pytest

from imitlab.data.model import Episode
from imitlab.data.writer import write_dataset


def random_episodes(n_episodes=6, obs_dim=3, act_dim=2, seed=0, min_len=5, max_len=30):
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(n_episodes):
        t = int(rng.integers(min_len, max_len + 1))
        episodes.append(
            Episode(
                observation=rng.normal(size=(t, obs_dim)).astype(np.float32),
                action=rng.normal(size=(t, act_dim)).astype(np.float32),
                reward=rng.normal(size=t).astype(np.float32),
                success=np.zeros(t, dtype=bool),
            )
        )
    return episodes


@pytest.fixture
def small_dataset_dir(tmp_path):
    """A 6-episode random dataset on disk (obs_dim 3, act_dim 2), tagged with the pendulum env."""
    root = tmp_path / "data"
    write_dataset(
        root,
        random_episodes(),
        fps=10,
        task="random",
        obs_names=["a", "b", "c"],
        action_names=["u", "v"],
        robot_type="pendulum",
    )
    return root


@pytest.fixture(autouse=True, scope="session")
def frame_cache_in_a_temporary_directory(tmp_path_factory):
    """Decoded frame caches go to a directory of the test session, not the user's cache directory."""
    from imitlab.data.frame_cache import CACHE_DIR_ENV

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_DIR_ENV, str(tmp_path_factory.mktemp("imitlab-cache")))
        yield
