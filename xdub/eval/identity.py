"""CSIM: the cosine between ArcFace embeddings of the source's and the take's face.

The embedding network is insightface's ``arcface_torch`` IResNet (IResNet-100: blocks
3/13/30/3 of widths 64/128/256/512, 512 features). Input: ``(N, 3, 112, 112)`` RGB scaled to
``(x / 255 - 0.5) / 0.5``. Keys match its released ``backbone.pth`` (``conv1``, ``bn1``,
``prelu``, ``layer1``..``layer4`` of ``bn1 conv1 bn2 prelu conv2 bn3 [downsample.0/1]``,
``bn2``, ``fc``, ``features``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor, nn

INPUT_SIZE_PX = 112


@dataclass(frozen=True)
class IResNetConfig:
    """Blocks per stage, stage widths and the embedding size (IResNet-100 by default)."""

    layers: tuple[int, int, int, int] = (3, 13, 30, 3)
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    num_features: int = 512

    @classmethod
    def tiny_for_tests(cls) -> IResNetConfig:
        return cls((1, 1, 1, 1), (4, 8, 8, 16), 8)


class _Block(nn.Module):
    """Pre-activation residual block: BN, conv3x3, BN, PReLU, conv3x3 (stride), BN, + shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)


class IResNet(nn.Module):
    """``(N, 3, 112, 112)`` normalised RGB -> ``(N, num_features)`` embeddings."""

    def __init__(self, config: IResNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or IResNetConfig()
        first = config.widths[0]
        self.conv1 = nn.Conv2d(3, first, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(first, eps=1e-5)
        self.prelu = nn.PReLU(first)
        cin = first
        for index, (count, width) in enumerate(zip(config.layers, config.widths, strict=True)):
            blocks = [_Block(cin, width, 2)] + [_Block(width, width, 1) for _ in range(count - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
            cin = width
        self.bn2 = nn.BatchNorm2d(cin, eps=1e-5)
        side = INPUT_SIZE_PX // 16
        self.fc = nn.Linear(cin * side * side, config.num_features)
        self.features = nn.BatchNorm1d(config.num_features, eps=1e-5)

    def forward(self, x: Tensor) -> Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        for index in range(4):
            x = getattr(self, f"layer{index + 1}")(x)
        return self.features(self.fc(self.bn2(x).flatten(1)))


def face_input(faces_rgb: np.ndarray) -> Tensor:
    """``(N, H, W, 3)`` uint8 face crops -> ``(N, 3, 112, 112)`` float32 network input."""
    resized = [
        cv2.resize(face, (INPUT_SIZE_PX, INPUT_SIZE_PX), interpolation=cv2.INTER_AREA)
        for face in faces_rgb
    ]
    batch = torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).float()
    return (batch / 255.0 - 0.5) / 0.5


@torch.no_grad()
def csim(model: IResNet, source_faces: np.ndarray, take_faces: np.ndarray) -> np.ndarray:
    """Cosine similarity per face pair: two ``(N, H, W, 3)`` uint8 crops -> ``(N,)`` float64
    in -1..1 (1: the same identity as far as the network can tell)."""
    param = next(model.parameters())
    a = model(face_input(source_faces).to(param.device, param.dtype)).float()
    b = model(face_input(take_faces).to(param.device, param.dtype)).float()
    return nn.functional.cosine_similarity(a, b, dim=1).cpu().double().numpy()
