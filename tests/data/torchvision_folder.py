#!/usr/bin/env python3
"""data::ImageFolder's reads against torchvision's PIL pipeline on the same files.

    torchvision_folder.py make DIR    writes DIR/images/<class>/<image> (JPEG 4:2:0, 4:4:4 and
                                      grey at several sizes and qualities, and a PNG), with PIL
    torchvision_folder.py check DIR   compares what the unit test (unit.data, SELFSUP_FOLDER_DIR=DIR)
                                      wrote with torchvision given the same boxes and flips

The unit test draws boxes with selfsup's sample_resized_crop_boxes against the folder's header
sizes and writes them with its crops (DIR/crops.txt, *.u8). The check recomputes each crop with
torchvision.transforms.functional.resized_crop (and hflip) on the PIL image, and the evaluation
read with Resize then CenterCrop; it also draws boxes with torchvision's own
RandomResizedCrop.get_params and compares their distribution with selfsup's (DIR/boxes.txt).
Run with Debian's python3 (python3-torch, python3-torchvision, python3-pil).
"""
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

# (class, name, width, height, quality, subsampling) -- subsampling: 2 = 4:2:0, 0 = 4:4:4.
IMAGES = [
    ("a", "wide.jpg", 500, 375, 90, 2),
    ("a", "tall.jpg", 333, 500, 85, 2),
    ("a", "full.jpg", 240, 180, 95, 0),
    ("b", "odd.jpg", 301, 199, 75, 2),
    ("b", "grey.jpg", 256, 320, 90, None),
    ("b", "small.png", 120, 90, None, None),
]


def pattern(w, h, seed):
    """A photograph-like test image: smooth colour waves, hard edges and fine noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        for _ in range(5):
            fx, fy = rng.uniform(0.004, 0.09, 2)
            img[..., c] += rng.uniform(15, 45) * np.sin(fx * x + fy * y + rng.uniform(0, 6))
    img += 128 + rng.normal(0, 8, img.shape)
    img[((x // 37) + (y // 29)) % 3 == 0] *= 0.75
    return np.clip(img, 0, 255).astype(np.uint8)


def make(root):
    for i, (cls, name, w, h, quality, sub) in enumerate(IMAGES):
        os.makedirs(os.path.join(root, "images", cls), exist_ok=True)
        path = os.path.join(root, "images", cls, name)
        pixels = pattern(w, h, i)
        if name.endswith(".png"):
            Image.fromarray(pixels).save(path)
        elif sub is None:
            Image.fromarray(pixels).convert("L").save(path, quality=quality)
        else:
            Image.fromarray(pixels).save(path, quality=quality, subsampling=sub)
    print(f"wrote {len(IMAGES)} images under {root}/images")


def read_u8(path, shape):
    data = np.fromfile(path, dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        sys.exit(f"{path}: {data.size} bytes, expected {int(np.prod(shape))} for {shape}")
    return data.reshape(shape).astype(np.int64)


def ks(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return np.max(np.abs(np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size))


def check(root):
    failures = []
    paths = [line.strip() for line in open(os.path.join(root, "paths.txt"))]
    pil = {p: Image.open(os.path.join(root, "images", p)).convert("RGB") for p in paths}

    # Crops: the same boxes and flips through torchvision's resized_crop on the PIL image.
    rows = [line.split() for line in open(os.path.join(root, "crops.txt"))]
    size = int(rows[0][1])
    n = len(rows) - 1
    exact = read_u8(os.path.join(root, "crops_exact.u8"), (n, 3, size, size))
    scaled = read_u8(os.path.join(root, "crops_scaled.u8"), (n, 3, size, size))
    worst_exact, mean_scaled, worst_scaled = 0, [], 0
    for k, row in enumerate(rows[1:]):
        index, top, left, h, w, flip = (int(v) for v in row)
        img = TF.resized_crop(pil[paths[index]], top, left, h, w, [size, size], T.InterpolationMode.BILINEAR)
        if flip:
            img = TF.hflip(img)
        ref = np.asarray(img).astype(np.int64).transpose(2, 0, 1)
        d = np.abs(exact[k] - ref)
        worst_exact = max(worst_exact, int(d.max()))
        if d.max() > 1:
            failures.append(f"crop {k} of {paths[index]} (box {top} {left} {h} {w}, flip {flip}): "
                            f"full-scale decode differs from torchvision by up to {d.max()} levels")
        ds = np.abs(scaled[k] - ref)
        mean_scaled.append(ds.mean())
        worst_scaled = max(worst_scaled, int(ds.max()))
    # Decoding at 1/2..1/8 in the DCT filters differently from Pillow's triangle: allow about a
    # level on average (a box off by a pixel, or a flip ignored, is far more on these images).
    if max(mean_scaled) > 2.5:
        failures.append(f"DCT-scaled crops differ from torchvision by {max(mean_scaled):.2f} levels on average")
    print(f"crops: {n} boxes at {size} px; full scale: max difference {worst_exact} level(s); "
          f"DCT-scaled: mean {np.mean(mean_scaled):.3f} (worst crop {max(mean_scaled):.3f}), max {worst_scaled}")

    # Evaluation reads: Resize(size) then CenterCrop(size).
    size = int(open(os.path.join(root, "centre.txt")).read().split()[0])
    centre = read_u8(os.path.join(root, "centre_exact.u8"), (len(paths), 3, size, size))
    worst = 0
    for i, p in enumerate(paths):
        ref = np.asarray(TF.center_crop(TF.resize(pil[p], size, T.InterpolationMode.BILINEAR), size))
        d = np.abs(centre[i] - ref.astype(np.int64).transpose(2, 0, 1))
        worst = max(worst, int(d.max()))
        if d.max() > 1:
            failures.append(f"centre read of {p} differs from Resize+CenterCrop by up to {d.max()} levels")
    print(f"centre reads: {len(paths)} images at {size} px; max difference {worst} level(s)")

    # Box distributions: selfsup's draws against torchvision's get_params, per image size.
    draws = {}
    for line in open(os.path.join(root, "boxes.txt")):
        hh, ww, top, left, h, w = (int(v) for v in line.split())
        draws.setdefault((hh, ww), []).append((top, left, h, w))
    torch.manual_seed(20261203)
    for (hh, ww), ours in draws.items():
        ours = np.array(ours, dtype=np.float64)
        probe = torch.zeros(1, hh, ww)
        theirs = np.array([T.RandomResizedCrop.get_params(probe, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(len(ours))],
                          dtype=np.float64)
        # Critical value of the two-sample KS test at alpha = 0.001 for these sample sizes.
        crit = 1.95 * np.sqrt(2.0 / len(ours))
        for name, f in [("area fraction", lambda b: b[:, 2] * b[:, 3] / (hh * ww)),
                        ("aspect ratio", lambda b: b[:, 3] / b[:, 2]),
                        ("centre row", lambda b: (b[:, 0] + b[:, 2] / 2) / hh),
                        ("centre column", lambda b: (b[:, 1] + b[:, 3] / 2) / ww)]:
            stat = ks(f(ours), f(theirs))
            if stat > crit:
                failures.append(f"{hh} x {ww}: the {name} of selfsup's boxes is not torchvision's "
                                f"(KS {stat:.3f} > {crit:.3f})")
        inside = (ours[:, 0] >= 0) & (ours[:, 1] >= 0) & (ours[:, 0] + ours[:, 2] <= hh) & (ours[:, 1] + ours[:, 3] <= ww)
        if not inside.all():
            failures.append(f"{hh} x {ww}: {int((~inside).sum())} boxes leave the image")
    print(f"boxes: {sum(len(v) for v in draws.values())} draws on {len(draws)} image sizes against torchvision's get_params")

    for f in failures[:20]:
        print("FAIL:", f)
    if failures:
        sys.exit(f"{len(failures)} failure(s)")
    print("ImageFolder matches torchvision")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    (make if sys.argv[1] == "make" else check)(sys.argv[2])
