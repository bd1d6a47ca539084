#!/usr/bin/env python3
"""The README's method tables: `train` for each method with augmented and semantic positives,
under several seeds, as one Markdown table with 95 % intervals and the untrained network's row.

    scripts/method-table.py [--train PATH] [--methods simclr,moco_v2,...] [--seeds N]
                            [--out DIR] [--loss] [-- TRAIN_FLAGS...]

Each (method, positives) is one `train --method M --positives P --seeds N --json DIR/M-P.json`
run, its other flags those after `--` (for instance `--data cifar10:DIR --pairs DIR/pairs.csv`).
A JSON already in DIR from the same command line is reused, so an interrupted table resumes.
Prints per cell the mean ± the half-width of the 95 % interval over the seeds (kNN / shifted kNN /
linear top-1), then per method the paired differences semantic − augmented (seed by seed: run s
of both starts from the same weights), and the untrained network (the seeds' initial weights,
which `train` evaluates with every run). `--loss` adds each cell's mean final loss.
"""

import argparse
import json
import math
import os
import subprocess
import sys

# Student t quantiles for a two-sided 95 % interval, by degrees of freedom.
T95 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836, 6: 2.446911851,
       7: 2.364624252, 8: 2.306004135, 9: 2.262157163}
TITLES = {"simclr": "SimCLR", "moco_v2": "MoCo v2", "byol": "BYOL", "simsiam": "SimSiam",
          "barlow_twins": "Barlow Twins", "vicreg": "VICReg", "dino": "DINO", "swav": "SwAV", "moco_v3": "MoCo v3"}
METRICS = ("knn_top1", "shifted_knn_top1", "linear_top1")


def interval(values):
    """Mean and 95 % half-width (None for one value) of a list."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    if n - 1 not in T95:
        sys.exit(f"method-table: no t quantile for {n} seeds here; use at most 10")
    return mean, T95[n - 1] * sd / math.sqrt(n)


def cell(values, sign=False):
    if values is None:
        return "-"
    mean, half = interval(values)
    text = f"{mean:+.3f}" if sign else f"{mean:.3f}"
    return text if half is None else f"{text} ± {half:.3f}"


def run(args, method, positives):
    path = os.path.join(args.out, f"{method}-{positives}.json")
    command = [args.train, "--method", method, "--positives", positives, "--seeds", str(args.seeds),
               "--json", path, "--quiet"] + args.flags
    stamp = path + ".command"
    if os.path.exists(path) and os.path.exists(stamp):
        with open(stamp, encoding="utf-8") as f:
            if f.read() == " ".join(command):
                with open(path, encoding="utf-8") as g:
                    return json.load(g)
    for stale in (path, stamp):
        if os.path.exists(stale):
            os.remove(stale)
    print(f"method-table: {' '.join(command)}", file=sys.stderr, flush=True)
    done = subprocess.run(command)
    if done.returncode != 0:
        sys.exit(f"method-table: train exited {done.returncode} for {method} with {positives} positives")
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(" ".join(command))
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def runs(result, metric):
    values = result.get(f"{metric}_runs")
    return None if values is None else list(values)


def triple(result, get, loss=False):
    text = " / ".join(cell(get(result, m)) for m in METRICS)
    if loss:
        values = result.get("final_loss_runs")
        text += " (-)" if not values or None in values else f" ({sum(values) / len(values):.3f})"
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", default="./build/release/examples/train",
                        help="the train program (default: %(default)s)")
    parser.add_argument("--methods", default="simclr,moco_v2,byol,simsiam,barlow_twins,vicreg",
                        help="comma-separated --method values, one row each (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="seeds per cell, 0, 1, ... (default: %(default)s)")
    parser.add_argument("--out", default="method-table",
                        help="folder for the JSONs; a rerun of the same command reuses them (default: %(default)s)")
    parser.add_argument("--loss", action="store_true", help="add each cell's mean final loss")
    parser.add_argument("flags", nargs="*", help="flags for train, after --")
    args = parser.parse_args()
    if not 1 <= args.seeds <= 10:
        sys.exit(f"method-table: --seeds must be in [1, 10], got {args.seeds}")
    if not os.access(args.train, os.X_OK):
        sys.exit(f"method-table: --train {args.train} is not an executable (build the train example first)")
    os.makedirs(args.out, exist_ok=True)
    methods = [m for m in args.methods.split(",") if m]

    rows, diffs, untrained = [], [], {}
    for method in methods:
        aug, sem = run(args, method, "augmented"), run(args, method, "semantic")
        if aug["seeds"] != sem["seeds"]:
            sys.exit(f"method-table: {method}: the two runs have seeds {aug['seeds']} and {sem['seeds']}")
        untrained[method] = aug["untrained"]
        rows.append(f"| {TITLES.get(method, method)} | {triple(aug, runs, args.loss)} | {triple(sem, runs, args.loss)} |")
        paired = []
        for m in METRICS:
            a, s = runs(aug, m), runs(sem, m)
            paired.append("-" if a is None else cell([x - y for x, y in zip(s, a)], sign=True))
        gains = []
        for result in (aug, sem):
            gains.append(" / ".join(cell(None if runs(result, m) is None else
                                         [x - y for x, y in zip(runs(result, m), result["untrained"][f"{m}_runs"])],
                                         sign=True) for m in METRICS))
        diffs.append(f"| {TITLES.get(method, method)} | {' / '.join(paired)} | {gains[0]} | {gains[1]} |")

    suffix = " (loss)" if args.loss else ""
    print(f"| method | augmented: kNN / shifted / linear{suffix} | semantic: kNN / shifted / linear{suffix} |")
    print("|---|---|---|")
    print("\n".join(rows))
    # The backbone's initial weights are the same for every method when their seeded draws are;
    # one row then, else one per method.
    distinct = {json.dumps(u, sort_keys=True) for u in untrained.values()}
    for method, u in untrained.items():
        label = "untrained (the seeds' initial weights)" if len(distinct) == 1 else f"untrained ({TITLES.get(method, method)}'s)"
        print(f"| {label} | {' / '.join(cell(u.get(f'{m}_runs')) for m in METRICS)} | |")
        if len(distinct) == 1:
            break
    print()
    print("| method | semantic − augmented (paired) | augmented − untrained | semantic − untrained |")
    print("|---|---|---|---|")
    print("\n".join(diffs))


if __name__ == "__main__":
    main()
