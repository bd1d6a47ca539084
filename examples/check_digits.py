#!/usr/bin/env python3
"""The handwritten digits that scripts/fetch-mnist.sh makes, checked and used.

    check_digits.py SEMANTIC_VS_AUGMENTED WORK_DIR [DIGITS_DIR]

DIGITS_DIR: the argument, else $SELFSUP_MNIST_DIR, else /var/cache/selfsup/mnist. Without the
digits there it says so and exits 77 (ctest reports the test as skipped). With them it checks the
layout the fetch script promises, from the files themselves (record sizes and counts, the fixed
split, round-robin labels, grey digits on a black border, the pair table's partners of one class,
the checksums), then runs the main job on a small class-balanced subset under two seeds and checks
its JSON: the untrained network and the four variants, no shifted split, and each trained
variant's paired differences from augmented and from the untrained network.
"""

import hashlib
import json
import os
import subprocess
import sys

SKIP = 77
RECORD = 3073
TRAIN, TEST, CLASSES, PER_CLASS = 8000, 2000, 10, 800


def fail(message):
    sys.exit(f"check_digits: {message}")


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % RECORD:
        fail(f"{path}: {len(data)} bytes is not a whole number of {RECORD}-byte records")
    return [data[i:i + RECORD] for i in range(0, len(data), RECORD)]


def check_layout(root):
    with open(os.path.join(root, "SHA256SUMS"), encoding="ascii") as f:
        for line in f:
            digest, name = line.split()
            with open(os.path.join(root, name), "rb") as g:
                if hashlib.sha256(g.read()).hexdigest() != digest:
                    fail(f"{name}: its sha256 is not the one SHA256SUMS lists")
    train = []
    for b in range(1, 6):
        part = records(os.path.join(root, f"data_batch_{b}.bin"))
        if not part:
            fail(f"data_batch_{b}.bin is empty")
        train += part
    test = records(os.path.join(root, "test_batch.bin"))
    if (len(train), len(test)) != (TRAIN, TEST):
        fail(f"expected {TRAIN} training and {TEST} test records, got {len(train)} and {len(test)}")
    counts = [0] * CLASSES
    for i, r in enumerate(train):
        if r[0] != i % CLASSES:
            fail(f"training record {i} has label {r[0]}, expected {i % CLASSES} (round-robin order)")
        counts[r[0]] += 1
    if counts != [PER_CLASS] * CLASSES:
        fail(f"training records per class {counts}, expected {PER_CLASS} each")
    test_labels = {r[0] for r in test}
    if test_labels != set(range(CLASSES)):
        fail(f"the test split's labels are {sorted(test_labels)}, expected 0-9")
    for name, split in (("train", train), ("test", test)):
        for i, r in enumerate(split):
            red, green, blue = r[1:1025], r[1025:2049], r[2049:3073]
            if red != green or red != blue:
                fail(f"{name} record {i}: its three channels differ; the digits are grey")
            border = [red[y * 32 + x] for y in range(32) for x in range(32) if min(x, y, 31 - x, 31 - y) < 2]
            if any(border):
                fail(f"{name} record {i}: the 2-pixel border is not black")
            if max(red) < 128:
                fail(f"{name} record {i}: no stroke brighter than 127, not a digit")
    pairs = 0
    with open(os.path.join(root, "pairs.csv"), encoding="ascii") as f:
        lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    if lines[0] != "first,second,class":
        fail(f"pairs.csv: header {lines[0]!r}, expected 'first,second,class'")
    for line in lines[1:]:
        a, b, c = (int(v) for v in line.split(","))
        if not (0 <= a < TRAIN and 0 <= b < TRAIN) or a == b:
            fail(f"pairs.csv: pair {a},{b} is not two different training images")
        if train[a][0] != c or train[b][0] != c:
            fail(f"pairs.csv: pair {a},{b} of class {c} joins labels {train[a][0]} and {train[b][0]}")
        pairs += 1
    if pairs != 2 * TRAIN:
        fail(f"pairs.csv: {pairs} pairs, expected {2 * TRAIN}")


def check_study(exe, work, root):
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "digits.json")
    if os.path.exists(out):
        os.remove(out)
    command = [exe, "--data", f"cifar10:{root}", "--pairs", os.path.join(root, "pairs.csv"), "--per-class", "40",
               "--epochs", "1", "--seeds", "2", "--batch-size", "32", "--json", out, "--plot", ""]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        fail(f"{' '.join(command)} exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
    if "Paired differences from the untrained network" not in run.stdout:
        fail(f"no paired differences from the untrained network in its table:\n{run.stdout}")
    with open(out, encoding="utf-8") as f:
        results = json.load(f)
    names = [r["variant"] for r in results]
    if names != ["untrained", "augmented", "semantic", "mix", "same_label"]:
        fail(f"variants {names}")
    for r in results:
        if r["shifted_knn_top1"] is not None or r["seeds"] != [0, 1]:
            fail(f"{r['variant']}: shifted_knn_top1 {r['shifted_knn_top1']} (the digits have no shifted split), "
                 f"seeds {r['seeds']}")
        if not 0.1 <= r["knn_top1"] <= 1.0:
            fail(f"{r['variant']}: kNN top-1 {r['knn_top1']} is at or below chance on ten digits")
        if r["variant"] != "untrained":
            for key in ("vs_untrained",) + (("vs_augmented",) if r["variant"] != "augmented" else ()):
                gain = r[key]["knn_top1"]["mean"]
                expected = sum(r["knn_top1_runs"]) / 2 - sum(
                    next(x for x in results if x["variant"] == key[3:])["knn_top1_runs"]) / 2
                if abs(gain - expected) > 1e-9:
                    fail(f"{r['variant']}: {key} kNN {gain}, its runs give {expected}")
    print(f"check_digits: the layout of {root} and the main job on it are as documented")


def main(argv):
    if len(argv) not in (3, 4):
        fail("usage: check_digits.py SEMANTIC_VS_AUGMENTED WORK_DIR [DIGITS_DIR]")
    root = argv[3] if len(argv) == 4 else os.environ.get("SELFSUP_MNIST_DIR", "/var/cache/selfsup/mnist")
    if not os.path.isfile(os.path.join(root, ".selfsup-mnist-stamp")):
        print(f"check_digits: SKIPPED: no digits in {root} (scripts/fetch-mnist.sh makes them there; "
              "SELFSUP_MNIST_DIR names another folder)")
        return SKIP
    check_layout(root)
    check_study(argv[1], argv[2], root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
