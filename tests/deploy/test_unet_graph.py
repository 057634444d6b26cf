"""The U-Net's export form (deploy/unet_graph.py) computes what the U-Net computes."""

import pytest
import torch

from imitlab.deploy.manifest import film_rows
from imitlab.deploy.unet_graph import SigmoidMish, UnetGraph
from imitlab.policies.denoisers import ConditionalUnet1D

SHAPES = [(8, (32, 64, 128)), (6, (16, 32, 64)), (16, (16, 32)), (1, (8,)), (5, (8, 16, 32, 64))]


def trained_looking_unet(down_dims) -> ConditionalUnet1D:
    torch.manual_seed(0)
    unet = ConditionalUnet1D(act_dim=3, cond_dim=5, down_dims=down_dims, n_groups=4, time_embed_dim=16).eval()
    for p in unet.parameters():  # GroupNorm's affine and the FiLM biases away from their initial values
        p.data.add_(0.1 * torch.randn_like(p))
    return unet


def test_sigmoid_mish_equals_mish_over_the_float_range():
    x = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([-1e4, 1e4])])
    torch.testing.assert_close(SigmoidMish()(x), torch.nn.functional.mish(x), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(("horizon", "down_dims"), SHAPES)
def test_unet_graph_matches_the_unet_it_was_built_from(horizon, down_dims):
    unet = trained_looking_unet(down_dims)
    graph = UnetGraph(unet, horizon).eval()
    x, time, cond = torch.randn(4, horizon, 3), torch.tensor([0, 3, 50, 99]), torch.randn(4, 5)
    with torch.no_grad():
        torch.testing.assert_close(graph(x, time, cond), unet(x, time, cond), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("horizon", "down_dims"), SHAPES)
def test_condition_once_plus_one_shared_time_film_per_step_matches_the_unet_at_every_step(horizon, down_dims):
    unet = trained_looking_unet(down_dims)
    graph = UnetGraph(unet, horizon).eval()
    x, cond = torch.randn(4, horizon, 3), torch.randn(4, 5)
    with torch.no_grad():
        film_cond = graph.condition(cond)  # (B, rows), once for all steps
        for step in (99.0, 50.0, 3.0, 0.0):
            film = film_cond + graph.time_film(torch.tensor([step]))  # (1, rows) broadcast over the batch
            expected = unet(x, torch.full((4,), step), cond)
            torch.testing.assert_close(graph.denoise(x, film), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("horizon", "down_dims"), SHAPES)
def test_film_rows_from_the_config_is_the_width_of_the_graphs_film_input(horizon, down_dims):
    graph = UnetGraph(trained_looking_unet(down_dims), horizon)
    assert film_rows({"horizon": horizon, "down_dims": list(down_dims)}) == graph.film_rows
