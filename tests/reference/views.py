#!/usr/bin/env python3
"""Reference values for tests/views: torchvision's own image operations, one image at a time.

Run with Debian's python3 (python3-torch, python3-torchvision):

    /usr/bin/python3 tests/reference/views.py tests/reference/views.txt

Format: one tensor a line, `name ndim d0 d1 ... v0 v1 ...`, values in float64 round-trip form.
"""
import sys

import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

torch.manual_seed(20261127)
out = {}


def put(name, t):
    out[name] = t.detach().to(torch.float64).contiguous()


# --- resized_crop and hflip, by torchvision, one image at a time --------------------------------
images = torch.rand(6, 3, 20, 24)
boxes = torch.tensor([[0, 0, 20, 24], [3, 5, 10, 7], [0, 10, 20, 14], [7, 2, 1, 1],
                      [12, 18, 8, 6], [1, 1, 17, 9]])
for case, size in enumerate([(16, 12), (24, 30), (5, 5)]):
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
    f.write("# written by tests/reference/views.py; do not edit\n")
    for name, t in out.items():
        values = " ".join(repr(float(v)) for v in t.flatten().tolist())
        f.write(f"{name} {t.dim()} {' '.join(str(s) for s in t.shape)} {values}\n")
