#!/usr/bin/env python3
"""Peer of bench_losses: NT-Xent forward + backward in plain PyTorch, the usual formulation
(normalise, masked similarity matrix, cross-entropy), float32 on the CPU. Prints the median
time in milliseconds, alone on the first line. Run with Debian's python3 (python3-torch)."""
import argparse
import time

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=1024)
parser.add_argument("--d", type=int, default=128)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--reps", type=int, default=20)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def nt_xent(z0, z1, temperature):
    n = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]), dim=1)
    logits = z @ z.t() / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, targets)


z0 = torch.randn(args.n, args.d, requires_grad=True)
z1 = torch.randn(args.n, args.d, requires_grad=True)
times = []
for i in range(args.reps + 1):
    z0.grad = z1.grad = None
    start = time.perf_counter()
    nt_xent(z0, z1, 0.5).backward()
    if i > 0:
        times.append((time.perf_counter() - start) * 1e3)
times.sort()
print(f"{times[len(times) // 2]:.3f}")
