"""Recipe pieces several envs share (each env declares its own recipes on its ``EnvSpec``; docs/heads.md, "Defaults
and recipes"). A recipe names every field whose measured value differs from the policy's default, so a change of
default never changes what a recipe trains; changing a number here changes the figures the README quotes."""

from __future__ import annotations

from typing import Any

from imitlab.envs.registry import Recipe

# Diffusion and flow: Chi et al.'s U-Net at CPU width, with H = 8 / 4 executed (H = 16 / 8 trains ~25% slower
# for no gain on these short-horizon tasks); both reach their figures in 2500 steps.
DENOISER: Recipe = ({"horizon": 8, "n_action_steps": 4}, {"steps": 2500})
# ACT as the paper runs it: beta 10 on the KL and z = 0 at inference (the policy's defaults are the two-path
# recipe's latent instead, docs/heads.md "Defaults"); the Pendulum and PushT recipes were measured with these
ACT_PAPER_LATENT: dict[str, Any] = {"kl_weight": 10.0, "inference_z": "zero"}
# The tiny CNN on the whole frame of a small camera (two-path-pixels' 64 x 64): a random crop would shift the frame
# by up to 8 px (~0.4 units of the 3-unit arena), and where the robot is in the frame is all the policy knows of
# its position
SMALL_FRAME_VISION: dict[str, Any] = {"vision": {"backbone": "tiny", "crop_shape": None}}


def with_vision(recipes: dict[str, Recipe], vision: dict[str, Any]) -> dict[str, Recipe]:
    """A state env's recipes for its camera variant: each head's recipe unchanged, with the visual encoder's
    settings ``vision`` in front."""
    return {head: ({**policy, **vision}, dict(train)) for head, (policy, train) in recipes.items()}
