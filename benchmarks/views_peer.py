#!/usr/bin/env python3
"""Peer of bench_views: SimCLR's CIFAR augmentation with torchvision, one image at a time.

What Python SSL libraries do in their data-loader workers: torchvision's transforms applied to
each image separately (the tensor path, the same uint8 (3, 32, 32) images as bench_views), on one
CPU thread. Run with Debian's python3 (python3-torch, python3-torchvision):

    /usr/bin/python3 benchmarks/views_peer.py [--batch 256] [--batches 8] [--size 32]

Prints the views per second alone on the first line, then a line that describes the run.
"""
import argparse
import time
import warnings

import torch
import torchvision.transforms as T


def simclr_cifar(size):
    # SimCLR (Chen et al. 2020), CIFAR recipe: no blur; colour strength 0.5.
    return T.Compose([
        T.ConvertImageDtype(torch.float32),
        T.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=False),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
    ])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")
    transform = simclr_cifar(args.size)
    images = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8)
    for img in images[:16]:  # warm-up
        transform(img)
    start = time.perf_counter()
    for _ in range(args.batches):
        views = torch.stack([transform(img) for img in images])
    seconds = time.perf_counter() - start
    assert views.shape == (args.batch, 3, args.size, args.size)
    print(f"{args.batch * args.batches / seconds:.1f}")
    print(f"torchvision {__import__('torchvision').__version__} per image: views/s over {args.batches} batches "
          f"of {args.batch}, {torch.get_num_threads()} thread(s)")


if __name__ == "__main__":
    main()
