#!/usr/bin/env python3
"""bench_data's peer: torchvision's ImageFolder and DataLoader on the same folder.

    data_peer.py make DIR [--images 2000]
        writes DIR/<class>/<n>.jpg: 500 x 375 photograph-like JPEGs of about 94 KB (ImageNet's
        average size and weight), in 10 classes
    data_peer.py run DIR --transform random|centre --size S --workers W --batch B --batches N
        images/s of DataLoader(ImageFolder(DIR, transform), num_workers=W) over N batches after
        one, first line; random: RandomResizedCrop(S), RandomHorizontalFlip, PILToTensor (the
        papers' views from the full image); centre: Resize(S), CenterCrop(S), PILToTensor
    data_peer.py decode DIR --images N
        images/s of PIL's full decode alone (libjpeg-turbo), one core, first line
    data_peer.py headers DIR --files N
        writes N JPEGs of 1,000 classes that hold a header claiming 500 x 375 and no image
        data (ImageNet's layout and count, without its 140 GB), for timing a scan

Run with Debian's python3 (python3-torch, python3-torchvision).
"""
import argparse
import os
import sys
import time

import numpy as np


def pattern(w, h, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(5):
            fx, fy = rng.uniform(0.004, 0.09, 2)
            img[..., c] += rng.uniform(15, 45) * np.sin(fx * x + fy * y + rng.uniform(0, 6))
    img += 128 + rng.normal(0, 9, img.shape).astype(np.float32)
    img[((x // rng.integers(20, 60)) + (y // rng.integers(20, 60))) % 3 == 0] *= 0.75
    return np.clip(img, 0, 255).astype(np.uint8)


def make(root, images):
    from PIL import Image
    rng = np.random.default_rng(20261203)
    sizes = []
    for n in range(images):
        cls = os.path.join(root, f"class{n % 10}")
        os.makedirs(cls, exist_ok=True)
        path = os.path.join(cls, f"{n:05d}.jpg")
        Image.fromarray(pattern(500, 375, rng)).save(path, quality=94)
        sizes.append(os.path.getsize(path))
    print(f"wrote {images} JPEGs of 500 x 375 under {root}, {np.mean(sizes) / 1000:.0f} KB each on average")


def headers(root, files):
    from PIL import Image
    import io
    b = io.BytesIO()
    Image.new("RGB", (8, 8)).save(b, "JPEG", quality=90)
    blob = bytearray(b.getvalue())
    sof = blob.index(b"\xff\xc0")
    blob[sof + 5:sof + 9] = (375).to_bytes(2, "big") + (500).to_bytes(2, "big")
    sos = blob.index(b"\xff\xda")
    length = int.from_bytes(blob[sos + 2:sos + 4], "big")
    blob = bytes(blob[:sos + 2 + length]) + b"\xff\xd9"  # the scan header, then the end: no data
    for n in range(files):
        cls = os.path.join(root, f"n{n % 1000:08d}")
        if n < 1000:
            os.makedirs(cls, exist_ok=True)
        with open(os.path.join(cls, f"{n:08d}.JPEG"), "wb") as f:
            f.write(blob)
    print(f"wrote {files} header-only JPEGs ({len(blob)} bytes each) in 1,000 classes under {root}")


def run(args):
    import torch
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder
    torch.set_num_threads(1)
    if args.transform == "random":
        transform = T.Compose([T.RandomResizedCrop(args.size), T.RandomHorizontalFlip(), T.PILToTensor()])
    else:
        transform = T.Compose([T.Resize(args.size), T.CenterCrop(args.size), T.PILToTensor()])
    data = ImageFolder(args.dir, transform=transform)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         persistent_workers=True, drop_last=True, prefetch_factor=2)
    it = iter(loader)
    next(it)  # the workers started and warm
    start = time.perf_counter()
    seen = 0
    for _ in range(args.batches):
        try:
            x, _ = next(it)
        except StopIteration:
            it = iter(loader)
            x, _ = next(it)
        seen += x.shape[0]
    rate = seen / (time.perf_counter() - start)
    print(f"{rate:.1f}")
    print(f"torchvision {args.transform} {args.size} px, {args.workers} worker(s), batches of {args.batch}")


def decode(args):
    from PIL import Image
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(args.dir) for f in fs if f.endswith(".jpg"))[: args.images]
    blobs = [open(f, "rb").read() for f in files]
    import io
    start = time.perf_counter()
    for b in blobs:
        Image.open(io.BytesIO(b)).convert("RGB").load()
    print(f"{len(blobs) / (time.perf_counter() - start):.1f}")
    print(f"PIL full decode, one core, {len(blobs)} files")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["make", "run", "decode", "headers"])
    p.add_argument("dir")
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--files", type=int, default=100000)
    p.add_argument("--transform", choices=["random", "centre"], default="random")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--batches", type=int, default=8)
    a = p.parse_args()
    if a.command == "make":
        make(a.dir, a.images)
    elif a.command == "run":
        run(a)
    elif a.command == "headers":
        headers(a.dir, a.files)
    else:
        decode(a)
