#!/usr/bin/env python3
"""Peer of bench_train_step's encoder row: the same encoder in PyTorch (the SmallCNN, or
torchvision's ResNet-18/50 with the CIFAR stem up to 64 px, plus the 2-layer projector to 128),
its forward and backward on a batch of 2B images, on the CPU with the same number of threads.
Prints the median milliseconds, alone on the first line, then a description. Run with Debian's
python3 (python3-torch, python3-torchvision)."""
import argparse
import time

import torch
import torch.nn as nn
import torchvision

from peer_models import small_cnn

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="smallcnn", choices=["smallcnn", "resnet18", "resnet50"])
parser.add_argument("--batch", type=int, default=256)
parser.add_argument("--width", type=int, default=16)
parser.add_argument("--size", type=int, default=32)
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--channels-last", action="store_true")
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def resnet(depth, size):
    net = getattr(torchvision.models, f"resnet{depth}")()
    if size <= 64:
        net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    features = net.fc.in_features
    net.fc = nn.Identity()
    return net, features


backbone, features = small_cnn(args.width) if args.model == "smallcnn" else resnet(int(args.model[6:]), args.size)
model = nn.Sequential(backbone, nn.Linear(features, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
                      nn.Linear(512, 128))
x = torch.rand(2 * args.batch, 3, args.size, args.size)
if args.channels_last:
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
times = []
for step in range(args.steps + 2):
    start = time.perf_counter()
    model.zero_grad()
    model(x).sum().backward()
    if step >= 2:
        times.append((time.perf_counter() - start) * 1e3)
times.sort()
print(f"{times[len(times) // 2]:.2f}")
print(f"PyTorch {torch.__version__}, {args.model}, forward + backward of {2 * args.batch} images, "
      f"{args.threads} threads{', channels-last' if args.channels_last else ''}")
