"""Built-in environments; importing this package registers them."""

from imitlab.envs import pendulum, two_path  # noqa: F401
from imitlab.envs.registry import ENVS, EnvSpec, get_env_spec, register_env

__all__ = ["ENVS", "EnvSpec", "get_env_spec", "register_env"]
