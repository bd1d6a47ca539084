#!/usr/bin/env python3
"""Reference values for tests/views: torchvision's own image operations, one image at a time.

Run with Debian's python3 (python3-torch, python3-torchvision):

    /usr/bin/python3 tests/reference/views.py tests/reference/views.txt

Format: one tensor a line, `name ndim d0 d1 ... v0 v1 ...`, values with 9 significant digits
(exact for the float32 values torchvision returns).
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

# --- colour operations, blur, solarize: torchvision per image, float tensors in [0, 1] ----------
# Small images so that reflect padding reaches across the whole image for kernel 9. Image 3 is
# quantised to quarters: ties between channels and gray pixels (zero chroma) for hue.
color = torch.rand(4, 3, 5, 6)
color[3] = (color[3] * 4).round() / 4
put("color.images", color)


def per_image(fn, factors):
    return torch.stack([fn(img, float(f)) for img, f in zip(color, factors)])


factor_sets = {"brightness": [[0.0, 0.6, 1.0, 1.4], [2.0, 0.25, 0.9, 1.1]],
               "contrast": [[0.0, 0.6, 1.0, 1.4], [2.0, 0.25, 0.9, 1.1]],
               "saturation": [[0.0, 0.6, 1.0, 1.4], [2.0, 0.25, 0.9, 1.1]],
               "hue": [[-0.5, 0.5, 0.0, 0.25], [0.1, -0.1, -0.3, 0.45]]}
ops = {"brightness": TF.adjust_brightness, "contrast": TF.adjust_contrast,
       "saturation": TF.adjust_saturation, "hue": TF.adjust_hue}
for name, sets in factor_sets.items():
    for i, factors in enumerate(sets):
        put(f"{name}.{i}.factors", torch.tensor(factors))
        put(f"{name}.{i}.out", per_image(ops[name], factors))
put("grayscale.out", torch.stack([TF.rgb_to_grayscale(img, num_output_channels=3) for img in color]))
sigmas = [0.1, 0.7, 1.5, 3.0]
put("blur.sigmas", torch.tensor(sigmas))
for k in (3, 5, 9):
    put(f"blur.{k}.out", torch.stack([TF.gaussian_blur(img, [k, k], [s, s]) for img, s in zip(color, sigmas)]))
put("solarize.scalar.out", torch.stack([TF.solarize(img, 0.5) for img in color]))
thresholds = [0.0, 0.3, 0.5, 1.0]
put("solarize.thresholds", torch.tensor(thresholds))
put("solarize.out", torch.stack([TF.solarize(img, t) for img, t in zip(color, thresholds)]))
put("normalize.out", torch.stack([TF.normalize(img, [0.4914, 0.4822, 0.4465], [0.247, 0.243, 0.261])
                                  for img in color]))

with open(sys.argv[1], "w") as f:
    f.write("# written by tests/reference/views.py; do not edit\n")
    for name, t in out.items():
        # Every value is a float32 result: 9 significant digits round-trip it exactly.
        values = " ".join(f"{v:.9g}" for v in t.flatten().tolist())
        f.write(f"{name} {t.dim()} {' '.join(str(s) for s in t.shape)} {values}\n")
