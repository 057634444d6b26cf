"""Visual encoders: camera frames (B, 3, H, W) uint8 -> features (B, feature_dim), one module any head can put in
front of its observation.

Chi et al. 2023 (Diffusion Policy), section IV-B: a ResNet-18 trained from scratch, with GroupNorm in place of
BatchNorm (BatchNorm and an EMA of the weights do not mix) and a spatial-softmax pool in place of global average
pooling (Levine et al. 2016; Finn et al. 2016 "Deep Spatial Autoencoders"), so the features are image-plane
keypoints. Frames are randomly cropped in training and center-cropped in evaluation (84×84 of PushT's 96×96).
torchvision is not used: its wheels here are built for CUDA torch, and no weights are downloaded.

``small`` is a four-layer CNN with the same pool, sized for training on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from imitlab.core.errors import InvalidInputError

BACKBONES = ("resnet18", "small", "tiny")


@dataclass(frozen=True)
class VisionConfig:
    """How camera frames become features."""

    backbone: str = "resnet18"  # "resnet18" (Chi et al.), or "small" or "tiny" (4-layer CNNs for CPU training)
    crop_shape: tuple[int, int] | None = (84, 84)  # (H, W) of the crop; None keeps the whole frame
    num_keypoints: int = 32  # spatial-softmax keypoints; the feature is their (x, y): 2 * num_keypoints values
    feature_dim: int = 64  # output features per camera (a linear layer + ReLU after the keypoints)
    shared: bool = True  # one encoder for every camera (True) or one per camera (False)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise InvalidInputError(f"vision backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if self.num_keypoints < 1 or self.feature_dim < 1:
            raise InvalidInputError(
                f"num_keypoints and feature_dim must be >= 1, got {self.num_keypoints}, {self.feature_dim}"
            )
        if self.crop_shape is not None and (len(self.crop_shape) != 2 or min(self.crop_shape) < 8):
            raise InvalidInputError(f"crop_shape must be (H, W) with both >= 8, or None; got {self.crop_shape}")


class SpatialSoftmax(nn.Module):
    """Feature maps (B, C, H, W) -> keypoints (B, K, 2): the expected (x, y) in [-1, 1] of a softmax over each of
    K maps (a 1×1 convolution first maps C channels to K). Finn et al. 2016, eq. 1."""

    grid: torch.Tensor  # (H*W, 2) buffer: the (x, y) of each feature-map cell

    def __init__(self, channels: int, height: int, width: int, num_keypoints: int):
        super().__init__()
        self.keypoint_conv = nn.Conv2d(channels, num_keypoints, kernel_size=1)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))  # (H*W, 2)
        self.num_keypoints = num_keypoints

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        maps = self.keypoint_conv(features).flatten(2)  # (B, K, H*W)
        attention = torch.softmax(maps, dim=-1)
        return attention @ self.grid  # (B, K, 2)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 16 channels per group, as Diffusion Policy's replace_bn_with_gn."""
    return nn.GroupNorm(max(1, channels // 16), channels)


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016) with GroupNorm."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm1 = group_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm2 = group_norm(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), group_norm(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(out)) + self.shortcut(x))


def resnet18_trunk() -> nn.Sequential:
    """ResNet-18 without its pooling and classifier: (B, 3, H, W) -> (B, 512, H/32, W/32)."""
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        group_norm(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    channels = 64
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(channels, width, stride), BasicBlock(width, width, 1)]
        channels = width
    return nn.Sequential(*layers)


def conv_trunk(widths: tuple[int, int]) -> nn.Sequential:
    """Four 3×3 convolutions (widths[0] twice, then widths[1] twice; the first of each pair with stride 2):
    (B, 3, H, W) -> (B, widths[1], H/4, W/4)."""
    layers: list[nn.Module] = []
    channels = 3
    for width, stride in ((widths[0], 2), (widths[0], 1), (widths[1], 2), (widths[1], 1)):
        layers += [nn.Conv2d(channels, width, 3, stride, 1), group_norm(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers)


# "small" (32, 64 channels) for CPU training on PushT-size frames; "tiny" (16, 32), about a quarter of its
# arithmetic, for simple scenes such as two-path's 64×64 top-down view
TRUNKS = {"resnet18": resnet18_trunk, "small": lambda: conv_trunk((32, 64)), "tiny": lambda: conv_trunk((16, 32))}


def crop(images: torch.Tensor, shape: tuple[int, int], generator: torch.Generator | None, random: bool) -> torch.Tensor:
    """Crop frames (B, C, H, W) to ``shape``: at one random offset per frame when ``random`` (training), at the
    centre otherwise (evaluation)."""
    B, _, H, W = images.shape
    h, w = shape
    if (h, w) == (H, W):
        return images
    if h > H or w > W:
        raise InvalidInputError(f"crop {shape} is larger than the frames {(H, W)}")
    if not random:
        top, left = (H - h) // 2, (W - w) // 2
        return images[:, :, top : top + h, left : left + w]
    tops = torch.randint(0, H - h + 1, (B,), generator=generator).to(images.device)
    lefts = torch.randint(0, W - w + 1, (B,), generator=generator).to(images.device)
    rows = (tops[:, None] + torch.arange(h, device=images.device))[:, None, :, None]  # (B, 1, h, 1)
    cols = (lefts[:, None] + torch.arange(w, device=images.device))[:, None, None, :]  # (B, 1, 1, w)
    batch = torch.arange(B, device=images.device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return images[batch, channel, rows, cols]


class VisualEncoder(nn.Module):
    """Frames (B, 3, H, W), already normalised, -> features (B, feature_dim): crop, trunk, spatial softmax,
    linear + ReLU. Cropping is random in training mode (seeded by ``generator``) and central in eval mode."""

    def __init__(self, config: VisionConfig, image_shape: tuple[int, int]):
        super().__init__()
        self.config = config
        crop_h, crop_w = config.crop_shape or image_shape
        self.input_shape = (crop_h, crop_w)  # a tuple whatever sequence type the config holds
        self.trunk = TRUNKS[config.backbone]()
        with torch.no_grad():
            _, channels, height, width = self.trunk(torch.zeros(1, 3, *self.input_shape)).shape
        self.pool = SpatialSoftmax(channels, height, width, config.num_keypoints)
        self.out = nn.Linear(2 * config.num_keypoints, config.feature_dim)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise InvalidInputError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        images = crop(images, self.input_shape, generator, random=self.training)
        keypoints = self.pool(self.trunk(images))  # (B, K, 2)
        return F.relu(self.out(keypoints.flatten(1)))
