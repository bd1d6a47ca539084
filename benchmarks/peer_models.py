"""What the Python peers of the benchmarks share: selfsup's SmallCNN in PyTorch (conv3x3-BN-ReLU
stages of width w, 2w, 4w, 8w, the last three with stride 2, then global average pooling)."""
import torch.nn as nn


def small_cnn(width):
    """The SmallCNN backbone and its feature width, 8 * width."""
    layers, c = [], 3
    for stage in range(4):
        out = width << stage
        layers += [nn.Conv2d(c, out, 3, stride=1 if stage == 0 else 2, padding=1, bias=False),
                   nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        c = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), 8 * width
