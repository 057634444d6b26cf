"""Built-in policies; importing this package registers them."""

from imitlab.policies import act, actor_critic, diffusion, dt, flow, gmm, mlp, tokenized  # noqa: F401
from imitlab.policies.base import POLICIES, Policy, PolicyConfig, get_policy_class, register_policy

__all__ = ["POLICIES", "Policy", "PolicyConfig", "get_policy_class", "register_policy"]
