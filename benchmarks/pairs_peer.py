#!/usr/bin/env python3
"""Peer of bench_pairs: semantic partners drawn the usual way in Python, from a dict that maps
each image to the list of its partners, one random.choice per anchor (what a Dataset's
__getitem__ does), for a batch of anchors. Same table shape as bench_pairs: `pairs` same-class
pairs over `images` images of 1000 classes. Prints the median microseconds per batch, alone on
the first line, then a description. Run with Debian's python3."""
import argparse
import random
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--pairs", type=int, default=1000000)
parser.add_argument("--images", type=int, default=500000)
parser.add_argument("--batch", type=int, default=4096)
parser.add_argument("--reps", type=int, default=200)
args = parser.parse_args()

torch.manual_seed(0)
first = torch.randint(args.images, (args.pairs,))
second = (first + torch.randint(1, args.images // 1000, (args.pairs,)) * 1000) % args.images
partners = {}
for a, b in zip(first.tolist(), second.tolist()):
    partners.setdefault(a, []).append(b)
    partners.setdefault(b, []).append(a)

rng = random.Random(1)
perm = torch.randperm(args.images).tolist()
slices = args.images // args.batch
times = []
for i in range(args.reps + 10):
    anchors = perm[(i % slices) * args.batch:(i % slices + 1) * args.batch]
    start = time.perf_counter()
    chosen = [rng.choice(partners[a]) if a in partners else a for a in anchors]
    if i >= 10:
        times.append((time.perf_counter() - start) * 1e6)
times.sort()
print(f"{times[len(times) // 2]:.1f}")
print(f"python dict of partner lists, random.choice per anchor: batch {args.batch}, "
      f"p10 {times[len(times) // 10]:.1f} us, p90 {times[len(times) * 9 // 10]:.1f} us")
