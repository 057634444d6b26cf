"""Import demonstrations stored by other libraries into our LeRobot-layout datasets (``imitlab import``).

Each source format is one small *reader*: it opens a store and returns a ``SourceStore`` — named per-frame
arrays concatenated over time, plus the cumulative end index of every episode (the layout of diffusion_policy's
``ReplayBuffer``). Everything after that is shared: the key mapping (observation keys flattened and
concatenated, ``KEY[START:STOP]`` keeping a range of columns; one action key), per-episode checks, the choice of
episodes, and the atomic ``write_dataset``.
Adding robomimic's hdf5 (``data/demo_i/obs/<key>``, ``data/demo_i/actions``) means one more reader that fills a
``SourceStore`` and one ``READERS`` entry, as imitation's npz archives did.

Formats:

- ``diffusion-policy-zarr``: ``data/<key>`` arrays (N, ...) and ``meta/episode_ends`` (E,) int, read with
  ``zarr`` (optional extra ``imitlab[zarr]``). zarr rather than a hand-written chunk reader: the stores are
  blosc/zstd compressed (numcodecs is needed either way) and zarr also handles the v2/v3 metadata, chunk key
  separators, fill values and memory orders that a 40-line reader would silently get wrong.
- ``imitation-npz``: trajectories saved by HumanCompatibleAI/imitation's ``types.save`` (versions before its
  HuggingFace-datasets format): ``obs`` (N + E, ...) holding each trajectory's final observation too, ``acts``
  (N, ...), ``indices`` (E - 1,) where ``acts`` splits into trajectories, optional ``rews``. Keys: ``obs``,
  ``acts``, ``rews``; read with numpy alone.

Images: ``image_keys`` maps store keys holding RGB frames (N, H, W, 3) (uint8, or numbers that are integers in
0-255, as diffusion_policy stores them in float32) to cameras ``observation.images.<name>``; each is read one
episode at a time and written as a video feature.

Source stores hold no reward or success flags: imported frames get reward 0 and success False.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imitlab.core.errors import InvalidInputError
from imitlab.core.limits import MAX_IMPORT_ROWS, over
from imitlab.data.layout import IMAGES_PREFIX, DatasetError
from imitlab.data.model import Episode, EpisodeDataset
from imitlab.data.writer import write_dataset


@dataclass(frozen=True)
class SourceStore:
    """What a reader returns. ``arrays``: key -> (N, ...) per-frame array over all episodes (read lazily:
    a callable that loads the key); ``episode_ends``: (E,) cumulative end index of each episode."""

    path: Path
    keys: tuple[str, ...]
    load: Callable[[str], np.ndarray]
    episode_ends: np.ndarray
    describe: str  # how a key is addressed in the store, for messages, e.g. "data/{key}"
    episode_ends_at: str = "meta/episode_ends"  # where the episode boundaries come from, for messages
    # readers that can read part of a key: (key, start, stop) -> rows [start, stop); large arrays (images) are
    # then read one episode at a time
    load_rows: Callable[[str, int, int], np.ndarray] | None = None

    def rows(self, key: str, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of ``key`` (read alone where the reader can, else cut from the whole array)."""
        if self.load_rows is not None:
            return self.load_rows(key, start, stop)
        return self.load(key)[start:stop]


def read_diffusion_policy_zarr(path: Path) -> SourceStore:
    """A diffusion_policy ``ReplayBuffer`` zarr store: ``data/<key>`` and ``meta/episode_ends``."""
    try:
        import zarr
    except ModuleNotFoundError:
        raise DatasetError("reading a zarr store needs the 'zarr' package: pip install 'imitlab[zarr]'") from None
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    try:
        root = zarr.open_group(str(path), mode="r")
    except Exception as err:  # zarr raises several types for "not a group"
        raise DatasetError(
            f"{path} is not a zarr store (a diffusion_policy replay buffer is a zarr group holding data/ and "
            f"meta/episode_ends): {type(err).__name__}: {err}"
        ) from None
    found = sorted(root.keys())
    if "data" not in found or "meta" not in found:
        raise DatasetError(
            f"{path} is not a diffusion_policy replay buffer: it needs groups 'data' and 'meta' "
            f"(found: {', '.join(found) or 'nothing'})"
        )
    data, meta = root["data"], root["meta"]
    if not isinstance(data, zarr.Group) or not isinstance(meta, zarr.Group):
        raise DatasetError(f"{path} is not a diffusion_policy replay buffer: 'data' and 'meta' must be groups")
    meta_keys = sorted(meta.keys())
    if "episode_ends" not in meta_keys:
        raise DatasetError(f"{path}/meta has no array 'episode_ends' (found: {', '.join(meta_keys) or 'nothing'})")

    def array(group: zarr.Group, key: str) -> zarr.Array:
        node = group[key]
        if not isinstance(node, zarr.Array):
            raise DatasetError(f"{path}/{group.basename}/{key} is a group; expected an array")
        return node

    def load(group: zarr.Group, key: str) -> np.ndarray:
        node = array(group, key)
        too_big = over(*MAX_IMPORT_ROWS, int(node.shape[0]) if node.shape else 0)
        if too_big:
            raise DatasetError(f"{path}/{group.basename}/{key} declares {node.shape[0]:,} rows: {too_big}")
        return np.asarray(node[:])

    return SourceStore(
        path=path,
        keys=tuple(sorted(data.keys())),
        load=lambda key: load(data, key),
        episode_ends=load(meta, "episode_ends"),
        describe="data/{key}",
        load_rows=lambda key, start, stop: np.asarray(array(data, key)[start:stop]),
    )


def read_imitation_npz(path: Path) -> SourceStore:
    """An npz archive of imitation's ``types.save``: per-frame ``obs`` without each trajectory's final observation,
    ``acts`` and (when saved) ``rews``, split where ``indices`` says."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist or is not a file (an imitation archive is one .npz file)")
    try:
        archive = np.load(path, allow_pickle=False)  # object arrays (infos) are never read
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path} is not an npz archive: {err}") from None
    missing = sorted({"obs", "acts", "indices"} - set(archive.files))
    if missing:
        raise DatasetError(
            f"{path} is not an imitation trajectory archive: it lacks {', '.join(missing)} "
            f"(found: {', '.join(sorted(archive.files)) or 'nothing'})"
        )
    n_frames = len(archive["acts"])
    ends = np.append(archive["indices"], n_frames).astype(np.int64)
    obs = archive["obs"]
    if len(obs) != n_frames + len(ends):
        raise DatasetError(
            f"{path}: obs has {len(obs)} rows, but {n_frames} actions in {len(ends)} trajectories "
            f"need {n_frames + len(ends)} (each trajectory keeps its final observation)"
        )
    per_frame = np.ones(len(obs), dtype=bool)
    per_frame[ends + np.arange(len(ends))] = False  # trajectory i's final observation sits i rows after its end
    loaders = {"obs": lambda: obs[per_frame], "acts": lambda: archive["acts"]}
    if "rews" in archive.files:
        loaders["rews"] = lambda: archive["rews"]
    return SourceStore(
        path=path,
        keys=tuple(sorted(loaders)),
        load=lambda key: loaders[key](),
        episode_ends=ends,
        describe="{key}",
        episode_ends_at="indices",
    )


READERS: dict[str, Callable[[Path], SourceStore]] = {
    "diffusion-policy-zarr": read_diffusion_policy_zarr,
    "imitation-npz": read_imitation_npz,
}
DEFAULT_KEYS = {"diffusion-policy-zarr": (["state"], "action"), "imitation-npz": (["obs"], "acts")}  # obs, action


def diffusion_policy_train_episodes(
    n_episodes: int, max_train: int | None, val_ratio: float = 0.02, seed: int = 42
) -> np.ndarray:
    """Indices of the training episodes diffusion_policy's datasets use (``get_val_mask`` then
    ``downsample_mask``, both with ``np.random.default_rng(seed)``): hold out ``round(val_ratio * E)`` episodes
    (at least 1) for validation, then keep ``max_train`` of the rest at random. Sorted (k,) int64."""
    if n_episodes < 2:
        raise InvalidInputError(f"a train/validation split needs at least 2 episodes, got {n_episodes}")
    val = np.zeros(n_episodes, dtype=bool)
    if val_ratio > 0:
        n_val = min(max(1, round(n_episodes * val_ratio)), n_episodes - 1)
        val[np.random.default_rng(seed).choice(n_episodes, size=n_val, replace=False)] = True
    train = np.flatnonzero(~val)
    if max_train is not None and len(train) > max_train:
        train = train[np.random.default_rng(seed).choice(len(train), size=int(max_train), replace=False)]
    return np.sort(train).astype(np.int64)


def _check_episode_ends(store: SourceStore, n_frames: int) -> np.ndarray:
    ends = store.episode_ends
    where = f"{store.path}/{store.episode_ends_at}"
    if ends.ndim != 1 or len(ends) == 0 or ends.dtype.kind not in "iu":
        raise DatasetError(f"{where} must be a non-empty 1-D integer array, found shape {ends.shape} {ends.dtype}")
    ends = ends.astype(np.int64)
    lengths = np.diff(np.concatenate([[0], ends]))
    bad = np.flatnonzero(lengths < 1)
    if len(bad):
        i = int(bad[0])
        raise DatasetError(
            f"{where}: episode {i} is empty or out of order (end {int(ends[i])} after "
            f"{int(ends[i - 1]) if i else 0}); ends must increase strictly"
        )
    if ends[-1] != n_frames:
        raise DatasetError(f"{where} ends at frame {int(ends[-1])}, but the data arrays hold {n_frames} frames")
    return ends


_KEY_SPEC = re.compile(r"(?P<key>[^\[\]]+)(\[(?P<start>-?\d*):(?P<stop>-?\d*)\])?")


def parse_key(spec: str) -> tuple[str, slice]:
    """``"state"`` -> ("state", all columns); ``"state[:2]"`` -> ("state", columns 0-1) of the flattened array."""
    match = _KEY_SPEC.fullmatch(spec)
    if match is None:
        raise InvalidInputError(f"bad key {spec!r}: give KEY or KEY[START:STOP] (columns of the flattened array)")
    start, stop = (int(match[g]) if match[g] else None for g in ("start", "stop"))
    return match["key"], slice(start, stop)


def _load_key(store: SourceStore, spec: str, role: str) -> np.ndarray:
    key, columns = parse_key(spec)
    if key not in store.keys:
        raise DatasetError(
            f"{store.path} has no {store.describe.format(key=key)} for the {role} "
            f"(found: {', '.join(store.keys) or 'nothing'})"
        )
    x = store.load(key)
    if x.ndim < 1 or x.dtype.kind not in "iuf":
        raise DatasetError(f"{store.path}/{store.describe.format(key=key)} must be numeric, found {x.dtype} {x.shape}")
    flat = x.reshape(len(x), -1)  # (N, ...) -> (N, D), e.g. keypoints (N, 9, 2) -> (N, 18)
    selected = flat[:, columns]
    if selected.shape[1] == 0:
        raise DatasetError(
            f"{spec!r} selects no column of {store.path}/{store.describe.format(key=key)} ({flat.shape[1]} columns)"
        )
    return selected


def parse_image_key(spec: str) -> tuple[str, str | None]:
    """``"img"`` -> ("img", None): camera named by default; ``"img=top"`` -> ("img", "observation.images.top")."""
    key, separator, camera = spec.partition("=")
    if not key or (separator and not camera):
        raise InvalidInputError(f"bad image key {spec!r}: give KEY or KEY=CAMERA (e.g. img=top)")
    if not camera:
        return key, None
    return key, camera if camera.startswith(IMAGES_PREFIX) else IMAGES_PREFIX + camera


def _check_images(store: SourceStore, key: str, frames: np.ndarray, episode: int) -> np.ndarray:
    """One episode's frames (T, H, W, 3) of store key ``key`` as uint8, or a DatasetError naming what is wrong."""
    where = f"{store.path}/{store.describe.format(key=key)}"
    if frames.ndim != 4 or frames.shape[3] != 3:
        raise DatasetError(
            f"{where} must hold RGB frames (N, H, W, 3), found shape (N, {', '.join(map(str, frames.shape[1:]))})"
        )
    if frames.dtype == np.uint8:
        return frames
    if frames.dtype.kind not in "iuf":
        raise DatasetError(
            f"{where} must be numeric (uint8, or integers 0-255 stored as numbers), found {frames.dtype}"
        )
    if frames.size and (frames.min() < 0 or frames.max() > 255 or not np.array_equal(frames, np.round(frames))):
        raise DatasetError(
            f"{where}: episode {episode} holds values other than the integers 0-255 (min {frames.min():g}, "
            f"max {frames.max():g}); images in [0, 1] would need scaling first"
        )
    return frames.astype(np.uint8)


def read_episodes(
    store: SourceStore,
    obs_keys: Sequence[str],
    action_key: str,
    episodes: Sequence[int] | np.ndarray | None = None,
    image_keys: dict[str, str] | None = None,
) -> list[Episode]:
    """Cut the store into episodes: observation = the ``obs_keys`` arrays flattened and concatenated (a key may
    select columns, ``KEY[START:STOP]``), action = ``action_key``; ``episodes`` selects (and orders) episode
    indices (default: all). ``image_keys``: store key -> camera key; those frames, read one episode at a time,
    become ``Episode.images``."""
    if not obs_keys:
        raise InvalidInputError("give at least one observation key")
    obs = np.concatenate([_load_key(store, k, "observation") for k in obs_keys], axis=1)
    action = _load_key(store, action_key, "action")
    if len(obs) != len(action):
        raise DatasetError(
            f"{store.path}: observation keys {list(obs_keys)} have {len(obs)} frames but "
            f"{store.describe.format(key=action_key)} has {len(action)}"
        )
    ends = _check_episode_ends(store, len(obs))
    starts = ends - np.diff(np.concatenate([[0], ends]))
    for key in image_keys or {}:
        if key not in store.keys:
            raise DatasetError(
                f"{store.path} has no {store.describe.format(key=key)} for the images "
                f"(found: {', '.join(store.keys) or 'nothing'})"
            )
    chosen = range(len(ends)) if episodes is None else [int(i) for i in episodes]
    out = []
    for i in chosen:
        if not 0 <= i < len(ends):
            raise InvalidInputError(f"episode {i} out of range: {store.path} holds {len(ends)} episodes")
        s, e = starts[i], ends[i]
        for name, x in (("observation", obs[s:e]), ("action", action[s:e])):
            if not np.isfinite(x).all():
                t, d = np.argwhere(~np.isfinite(x))[0].tolist()
                raise DatasetError(f"{store.path}: episode {i} has a non-finite {name} at step {t}, dimension {d}")
        images = {
            camera: _check_images(store, key, store.rows(key, s, e), i) for key, camera in (image_keys or {}).items()
        }
        out.append(
            Episode(
                observation=obs[s:e],
                action=action[s:e],
                reward=np.zeros(e - s, np.float32),
                success=np.zeros(e - s, bool),
                images=images,
            )
        )
    return out


def import_dataset(
    source: Path,
    out: Path,
    *,
    format: str = "diffusion-policy-zarr",
    obs_keys: Sequence[str] = ("state",),
    action_key: str = "action",
    env: str | None = None,
    fps: int | None = None,
    task: str | None = None,
    obs_names: Sequence[str] | None = None,
    action_names: Sequence[str] | None = None,
    episodes: Sequence[int] | np.ndarray | None = None,
    image_keys: Sequence[str] = (),
    overwrite: bool = False,
) -> EpisodeDataset:
    """Convert the store at ``source`` into a LeRobot-layout dataset at ``out`` (written atomically).

    ``env``: the registered env the data belongs to; its name becomes the dataset's ``robot_type`` (so that
    ``imitlab eval`` knows where to evaluate what is trained on it) and its fps, description and observation /
    action names are the defaults of the arguments left None (without an env: 10 fps and generic names).
    ``image_keys``: store keys of RGB frames, each ``KEY`` or ``KEY=CAMERA``, written as cameras (see
    ``camera_names``)."""
    robot_type, spec = "imported", None
    if env is not None:
        from imitlab.envs.registry import get_env_spec

        spec = get_env_spec(env)
        robot_type, fps, task = spec.name, fps or spec.fps, task or spec.description
        obs_names, action_names = obs_names or spec.obs_names, action_names or spec.action_names
    fps, task = fps or 10, task or "imported demonstrations"
    if format not in READERS:
        raise InvalidInputError(f"unknown import format {format!r}; available: {', '.join(sorted(READERS))}")
    cameras = camera_names(image_keys, dict(spec.cameras) if spec is not None else {})
    store = READERS[format](Path(source))
    if spec is not None:
        _check_env_cameras(store, cameras, spec.cameras, spec.name)
    eps = read_episodes(store, list(obs_keys), action_key, episodes, cameras)
    obs_dim, act_dim = eps[0].observation.shape[1], eps[0].action.shape[1]
    if obs_names is None:
        obs_names = [f"{'+'.join(obs_keys)}_{i}" for i in range(obs_dim)]
    if action_names is None:
        action_names = [f"{action_key}_{i}" for i in range(act_dim)]
    return write_dataset(
        out,
        eps,
        fps=fps,
        task=task,
        obs_names=obs_names,
        action_names=action_names,
        robot_type=robot_type,
        overwrite=overwrite,
    )


def camera_names(image_keys: Sequence[str], env_cameras: dict[str, tuple[int, int]]) -> dict[str, str]:
    """Store key -> camera key for ``image_keys`` (``KEY`` or ``KEY=CAMERA``). A ``KEY`` alone becomes the env's
    camera when the env has exactly one and one image key is given (so that the data matches what the env
    renders), else ``observation.images.KEY``."""
    parsed = [parse_image_key(spec) for spec in image_keys]
    only_env_camera = next(iter(env_cameras)) if len(env_cameras) == 1 and len(parsed) == 1 else None
    names = {key: camera or only_env_camera or IMAGES_PREFIX + key for key, camera in parsed}
    if len(set(names.values())) != len(names) or len(names) != len(parsed):
        raise InvalidInputError(f"image keys {list(image_keys)} name the same store key or camera twice")
    return names


def _check_env_cameras(
    store: SourceStore, cameras: dict[str, str], env_cameras: Mapping[str, tuple[int, int]], env: str
) -> None:
    """Before reading anything large: frames imported as a camera the env renders must have its frame size."""
    for key, camera in cameras.items():
        if camera in env_cameras and key in store.keys:
            shape = store.rows(key, 0, 1).shape[1:]
            if shape[:2] != tuple(env_cameras[camera]):
                raise DatasetError(
                    f"{store.path}/{store.describe.format(key=key)} holds frames of shape {shape}, but env {env!r} "
                    f"renders {camera} at {tuple(env_cameras[camera])} (height, width)"
                )


def train_split_episodes(format: str, source: Path, max_train: int | None) -> np.ndarray | None:
    """The episodes to import when only a training split of at most ``max_train`` is wanted (None: all).
    Only diffusion_policy stores have a conventional split (``diffusion_policy_train_episodes``)."""
    if max_train is None:
        return None
    if format != "diffusion-policy-zarr":
        raise InvalidInputError(f"--max-train-episodes follows diffusion_policy's split; format {format!r} has none")
    n_episodes = len(READERS[format](Path(source)).episode_ends)
    return diffusion_policy_train_episodes(n_episodes, max_train)
