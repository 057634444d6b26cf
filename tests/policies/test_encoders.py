import pytest
import torch
from torch import nn

from imitlab.policies.encoders import SpatialSoftmax, VisionConfig, VisualEncoder, crop


@pytest.mark.parametrize(
    ("backbone", "frame", "crop_shape"), [("small", (64, 64), (56, 56)), ("resnet18", (96, 96), (84, 84))]
)
def test_encoder_maps_frames_to_feature_vectors(backbone, frame, crop_shape):
    encoder = VisualEncoder(VisionConfig(backbone=backbone, crop_shape=crop_shape, feature_dim=48), frame)
    features = encoder(torch.rand(5, 3, *frame))
    assert features.shape == (5, 48)
    assert torch.isfinite(features).all()


def test_encoders_use_group_norm_never_batch_norm():
    for backbone in ("small", "resnet18"):
        modules = list(VisualEncoder(VisionConfig(backbone=backbone), (96, 96)).modules())
        assert any(isinstance(m, nn.GroupNorm) for m in modules)
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in modules)


def test_spatial_softmax_returns_the_location_of_a_peak():
    pool = SpatialSoftmax(channels=1, height=5, width=7, num_keypoints=1)
    with torch.no_grad():
        pool.keypoint_conv.weight.fill_(1.0)
        pool.keypoint_conv.bias.zero_()
    maps = torch.zeros(1, 1, 5, 7)
    maps[0, 0, 4, 1] = 100.0  # bottom row, second column
    keypoint = pool(maps)[0, 0]
    torch.testing.assert_close(keypoint, torch.tensor([-1 + 2 / 6, 1.0]), atol=1e-4, rtol=0)


def test_crop_is_random_in_training_and_central_in_evaluation():
    frames = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).view(2, 3, 10, 10)
    central = crop(frames, (6, 6), None, random=False)
    torch.testing.assert_close(central, frames[:, :, 2:8, 2:8])
    draws = {
        tuple(crop(frames, (6, 6), torch.Generator().manual_seed(s), random=True)[0, 0, 0, :2].tolist())
        for s in range(20)
    }
    assert len(draws) > 1  # different offsets for different seeds
    again = crop(frames, (6, 6), torch.Generator().manual_seed(3), random=True)
    torch.testing.assert_close(again, crop(frames, (6, 6), torch.Generator().manual_seed(3), random=True))


def test_random_crop_takes_a_contiguous_window_of_each_frame():
    frames = torch.rand(4, 3, 12, 12)
    out = crop(frames, (5, 7), torch.Generator().manual_seed(0), random=True)
    for b in range(4):
        windows = [frames[b, :, top : top + 5, left : left + 7] for top in range(8) for left in range(6)]
        assert any(torch.equal(out[b], w) for w in windows)


def test_encoder_is_deterministic_in_eval_mode():
    encoder = VisualEncoder(VisionConfig(backbone="small", crop_shape=(56, 56)), (64, 64)).eval()
    frames = torch.rand(3, 3, 64, 64)
    torch.testing.assert_close(encoder(frames), encoder(frames))


def test_vision_config_rejects_an_unknown_backbone():
    with pytest.raises(ValueError, match="resnet18, small"):
        VisionConfig(backbone="vit")
