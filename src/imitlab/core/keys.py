"""The names of features and batch entries, in one place: dataset columns, statistics, training batches and
policy inputs all use these constants, never the strings.

Dataset features follow LeRobot's names (a LeRobot policy reads ``observation.state`` and ``action`` too); a
training batch (``ChunkSampler.get`` -> ``Policy.compute_loss``) uses the same names for the same quantities.
"""

from __future__ import annotations

# --- dataset features: parquet columns, meta/info.json features, meta/stats.json and policy statistics ---------
OBS = "observation.state"  # a frame's observation (obs_dim,); in a batch the history (B, T_obs, obs_dim)
ACTION = "action"  # a frame's action (act_dim,); in a batch the chunk (B, H, act_dim)
REWARD = "next.reward"  # reward received after the frame's action
DONE = "next.done"  # the episode ends after the frame's action
SUCCESS = "next.success"  # the episode counts as a success if it ends after the frame's action

# a camera: LeRobot names its cameras observation.images.<camera>, or observation.image for a dataset of one
# camera (its PushT dataset); frames (H, W, 3) uint8, in a batch (B, T_obs, 3, H, W)
IMAGES_PREFIX = "observation.images."
SINGLE_CAMERA = "observation.image"


def camera_name(key: str) -> str | None:
    """The camera's name in a camera key ("observation.images.top" -> "top", "observation.image" -> "image"), or
    None when ``key`` is not a camera key (another prefix, an empty name, or a name with further dots)."""
    if key == SINGLE_CAMERA:
        return "image"
    name = key.removeprefix(IMAGES_PREFIX)
    return name if key.startswith(IMAGES_PREFIX) and name and "." not in name else None


# --- training batches only -----------------------------------------------------------------------------------
ACTION_IS_PAD = "action_is_pad"  # (B, H) bool: chunk steps past the episode's end (repeat its last action)
RETURN_TO_GO = "return_to_go"  # (B,) return from the chunk's first frame to the episode's end
INDEX = "index"  # (B,) global frame index of each chunk's first frame
# (B,) int64: each chunk's task, an index into the dataset's task table (meta/tasks.parquet, LeRobot's column);
# a policy trained on several tasks takes it in its observation dict
TASK_INDEX = "task_index"
# Decision-Transformer-style history aligned with the observation history; HISTORY_ACTION and
# HISTORY_RETURN_TO_GO are also the keyword arguments such a policy's predict_chunk takes (Policy.history_inputs).
HISTORY_ACTION = "history_action"  # (B, T_obs, act_dim) actions taken at the observed frames, 0 before the start
HISTORY_RETURN_TO_GO = "history_return_to_go"  # (B, T_obs) return still to come at each observed frame
HISTORY_IS_PAD = "history_is_pad"  # (B, T_obs) bool: observed frames before the episode's start
