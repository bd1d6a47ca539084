#!/usr/bin/env python3
"""Peer of bench_train_step: one SimCLR training step the usual way in PyTorch, with the same
work as bench_train_step's CPU run: a torch Dataset that applies torchvision's SimCLR CIFAR
transforms to each image twice (RandomResizedCrop, horizontal flip, ColorJitter with p = 0.8,
RandomGrayscale), a DataLoader, the same SmallCNN and projector, NT-Xent (tau = 0.5) and SGD.
The DataLoader runs `workers` worker processes (2 by default, one per core of the machine the
figures in the README come from; each worker augments on one thread, as PyTorch sets it). Prints
the median milliseconds per step (data loading included), alone on the first line, then a
description. Run with Debian's python3 (python3-torch, python3-torchvision)."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T

from peer_models import small_cnn

parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=256)
parser.add_argument("--width", type=int, default=16)
parser.add_argument("--size", type=int, default=32)
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--workers", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


model = nn.Sequential(small_cnn(args.width)[0], nn.Linear(8 * args.width, 512), nn.BatchNorm1d(512),
                      nn.ReLU(inplace=True), nn.Linear(512, 128))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

augment = T.Compose([
    T.RandomResizedCrop(args.size, scale=(0.08, 1.0)),
    T.RandomHorizontalFlip(),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
    T.RandomGrayscale(p=0.2),
    T.ConvertImageDtype(torch.float32),
])


class TwoViews(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i]
        return augment(image), augment(image)


def nt_xent(z0, z1, temperature=0.5):
    n = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]), dim=1)
    logits = (z @ z.t() / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, targets)


images = torch.randint(0, 256, (args.batch * (args.steps + 4), 3, args.size, args.size), dtype=torch.uint8)
loader = torch.utils.data.DataLoader(TwoViews(images), batch_size=args.batch, shuffle=True, drop_last=True,
                                     num_workers=args.workers)
times = []
it = iter(loader)
for step in range(args.steps + 2):
    start = time.perf_counter()
    x0, x1 = next(it)
    loss = nt_xent(*model(torch.cat([x0, x1])).chunk(2))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step >= 2:
        times.append((time.perf_counter() - start) * 1e3)
times.sort()
print(f"{times[len(times) // 2]:.2f}")
print(f"PyTorch + torchvision per image, DataLoader with {args.workers} workers, {args.threads} threads: "
      f"p10 {times[len(times) // 10]:.2f} ms, p90 {times[-1]:.2f} ms")
