"""The state normaliser's scale floor: a dimension that barely moves in the demos is not magnified."""

import pytest
import torch

from imitlab.core.errors import InvalidInputError
from imitlab.policies.base import PolicyConfig
from imitlab.policies.normalize import Normalizer

# a moving hand coordinate (std 0.05), a resting object's jitter (std 1e-4) and a constant (std 0)
STATS = {"mean": [0.0, 0.02, 1.0], "std": [0.05, 1e-4, 0.0], "min": [-0.1, 0.0198, 1.0], "max": [0.1, 0.0202, 1.0]}


def test_without_a_floor_the_data_scale_is_used_and_a_constant_dimension_is_left_unscaled() -> None:
    x = torch.tensor([[0.05, 0.0201, 1.5]])
    assert Normalizer(STATS, "mean_std").normalize(x) == pytest.approx(torch.tensor([[1.0, 1.0, 0.5]]), rel=1e-4)


@pytest.mark.parametrize("mode", ["mean_std", "min_max"])
def test_a_floor_keeps_a_jittering_dimension_small_and_barely_changes_a_moving_one(mode: str) -> None:
    jitter = torch.tensor([[0.05, 0.0201, 1.0]])
    plain = Normalizer(STATS, mode).normalize(jitter)
    floored = Normalizer(STATS, mode, floor=0.01).normalize(jitter)
    assert abs(plain[0, 1]) > 0.4  # 0.1 mm of jitter is half a unit or more without the floor
    assert abs(floored[0, 1]) < 0.02  # and a hundredth of one with it
    assert floored[0, 0] == pytest.approx(plain[0, 0] * 0.05 / 0.06 if mode == "mean_std" else plain[0, 0] / 1.1)
    assert floored[0, 2] == plain[0, 2] == 0.0


def test_a_negative_floor_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="obs_scale_floor"):
        PolicyConfig(obs_dim=3, act_dim=1, obs_scale_floor=-0.1)
