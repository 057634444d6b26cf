"""Built-in environments; importing this package registers them."""

from imitlab.envs import (  # noqa: F401  (gym-pusht and metaworld load lazily)
    cartpole,
    metaworld,
    pendulum,
    pusht,
    two_path,
    two_path_pixels,
)
from imitlab.envs.registry import ENVS, EnvSpec, get_env_spec, register_env

__all__ = ["ENVS", "EnvSpec", "get_env_spec", "register_env"]
