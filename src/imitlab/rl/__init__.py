"""Policy-gradient RL on the package's envs: REINFORCE (plain / reward-to-go / learned baseline), PPO, and
BC→RL fine-tuning of a ``bc`` run. One file per algorithm; importing this package registers them."""

from imitlab.rl import ppo, reinforce  # noqa: F401
from imitlab.rl.algorithm import ALGOS, get_algo
from imitlab.rl.loop import train_rl

__all__ = ["ALGOS", "get_algo", "train_rl"]
