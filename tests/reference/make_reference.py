#!/usr/bin/env python3
"""Writes the reference values that the C++ tests compare against.

Computed independently of selfsup, with PyTorch and torchvision (Debian's python3-torch and
python3-torchvision): the losses as the papers and the usual Python implementations write them,
the image operations by torchvision itself, one image at a time. Run with Debian's python3:

    /usr/bin/python3 tests/reference/make_reference.py tests/reference/reference.txt

Format: one tensor a line, `name ndim d0 d1 ... v0 v1 ...`, values in float64 round-trip form.
"""
import sys

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

torch.manual_seed(20261126)
out = {}


def put(name, t):
    out[name] = t.detach().to(torch.float64).contiguous()


# --- NT-Xent: cross-entropy over the 2N x 2N similarity logits, self-similarity excluded --------
def nt_xent(z0, z1, temperature):
    n = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]), dim=1)
    logits = z @ z.t() / temperature
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, targets)


for case, (n, d, t) in enumerate([(8, 5, 0.5), (5, 16, 0.2), (2, 3, 1.0)]):
    z0 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    z1 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    loss = nt_xent(z0, z1, t)
    g0, g1 = torch.autograd.grad(loss, [z0, z1])
    put(f"nt_xent.{case}.z0", z0)
    put(f"nt_xent.{case}.z1", z1)
    put(f"nt_xent.{case}.temperature", torch.tensor([t], dtype=torch.float64))
    put(f"nt_xent.{case}.loss", loss.reshape(1))
    put(f"nt_xent.{case}.grad_z0", g0)
    put(f"nt_xent.{case}.grad_z1", g1)


# --- Barlow Twins: BatchNorm1d without affine (biased variance, eps 1e-5), cross-correlation ----
def barlow_twins(z0, z1, lam):
    n, d = z0.shape
    bn = torch.nn.BatchNorm1d(d, affine=False, eps=1e-5).double().train()
    c = bn(z0).t() @ bn(z1) / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return on + lam * off


for case, (n, d, lam) in enumerate([(10, 6, 0.0051), (4, 3, 0.5)]):
    z0 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    z1 = (0.5 * z0.detach() + torch.randn(n, d, dtype=torch.float64)).requires_grad_(True)
    loss = barlow_twins(z0, z1, lam)
    g0, g1 = torch.autograd.grad(loss, [z0, z1])
    put(f"barlow.{case}.z0", z0)
    put(f"barlow.{case}.z1", z1)
    put(f"barlow.{case}.lambda", torch.tensor([lam], dtype=torch.float64))
    put(f"barlow.{case}.loss", loss.reshape(1))
    put(f"barlow.{case}.grad_z0", g0)
    put(f"barlow.{case}.grad_z1", g1)

# --- resized_crop and hflip, by torchvision, one image at a time --------------------------------
images = torch.rand(6, 3, 20, 24)
boxes = torch.tensor([[0, 0, 20, 24], [3, 5, 10, 7], [0, 10, 20, 14], [7, 2, 1, 1],
                      [12, 18, 8, 6], [1, 1, 17, 9]])
for case, size in enumerate([(16, 12), (32, 40), (5, 5)]):
    crops = torch.stack([TF.resized_crop(img, int(b[0]), int(b[1]), int(b[2]), int(b[3]), list(size),
                                         InterpolationMode.BILINEAR, antialias=False)
                         for img, b in zip(images, boxes)])
    put(f"resized_crop.{case}.size", torch.tensor(size))
    put(f"resized_crop.{case}.out", crops)
put("resized_crop.images", images)
put("resized_crop.boxes", boxes)
mask = torch.tensor([True, False, True, True, False, False])
put("hflip.mask", mask)
put("hflip.out", torch.stack([TF.hflip(img) if m else img for img, m in zip(images, mask)]))

with open(sys.argv[1], "w") as f:
    f.write("# written by tests/reference/make_reference.py; do not edit\n")
    for name, t in out.items():
        values = " ".join(repr(float(v)) for v in t.flatten().tolist())
        f.write(f"{name} {t.dim()} {' '.join(str(s) for s in t.shape)} {values}\n")
