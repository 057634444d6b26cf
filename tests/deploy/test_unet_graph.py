"""The U-Net's export form (deploy/unet_graph.py) computes what the U-Net computes."""

import pytest
import torch

from imitlab.deploy.unet_graph import SigmoidMish, UnetGraph
from imitlab.policies.denoisers import ConditionalUnet1D


def test_sigmoid_mish_equals_mish_over_the_float_range():
    x = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([-1e4, 1e4])])
    torch.testing.assert_close(SigmoidMish()(x), torch.nn.functional.mish(x), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(("horizon", "down_dims"), [(8, (32, 64, 128)), (6, (16, 32, 64)), (16, (16, 32)), (1, (8,))])
def test_unet_graph_matches_the_unet_it_was_built_from(horizon, down_dims):
    torch.manual_seed(0)
    unet = ConditionalUnet1D(act_dim=3, cond_dim=5, down_dims=down_dims, n_groups=4, time_embed_dim=16).eval()
    for p in unet.parameters():  # trained-looking weights: GroupNorm's affine away from (1, 0)
        p.data.add_(0.1 * torch.randn_like(p))
    graph = UnetGraph(unet, horizon).eval()
    x, time, cond = torch.randn(4, horizon, 3), torch.tensor([0, 3, 50, 99]), torch.randn(4, 5)
    with torch.no_grad():
        torch.testing.assert_close(graph(x, time, cond), unet(x, time, cond), atol=1e-5, rtol=1e-4)
