#!/usr/bin/env python3
"""The curation study end to end on the embedded dataset: mine candidate pairs with a backbone,
have them reviewed through curate review's HTTP API by a scripted reviewer that accepts a pair
when the two images' labels agree (a careful annotator), export, and train SimCLR under N seeds
with three sources of positives: augmented pairs, the unreviewed candidates, the reviewed table;
then `curate compare` prints each with its 95 % interval and the paired differences from
augmented pairs, and those of the reviewed table from the unreviewed candidates.

    curate_study.py --bin build/release/examples --work curate-study [--seeds 3] [--k 5]
                    [--data synthetic|synthetic:unreachable] [--per-class K] [--epochs E]
                    [--batch-size B] [--max-steps S]

The backbone that mines is the initial SmallCNN of seed 0 (`train --max-steps 0 --export`), the
network every run starts from. Every file the study makes is in --work: the candidates, the
reviewer's journal, both pair tables, each run's JSON and the comparison (compare.json).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--bin", required=True, help="the folder holding train and curate")
parser.add_argument("--work", required=True, help="the folder for the study's files (made; its files are replaced)")
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--k", type=int, default=5, help="neighbours per image when mining")
parser.add_argument("--method", default="simclr")
parser.add_argument("--data", default="synthetic", choices=["synthetic", "synthetic:unreachable"],
                    help="the embedded dataset, or its first version")
parser.add_argument("--per-class", type=int)
parser.add_argument("--epochs", type=int)
parser.add_argument("--batch-size", type=int)
parser.add_argument("--max-steps", type=int)
args = parser.parse_args()

train, curate = os.path.join(args.bin, "train"), os.path.join(args.bin, "curate")
os.makedirs(args.work, exist_ok=True)
path = lambda name: os.path.join(args.work, name)
data = ["--data", args.data] + (["--per-class", str(args.per_class)] if args.per_class else [])
budget = data[:]
for flag, value in [("--epochs", args.epochs), ("--batch-size", args.batch_size), ("--max-steps", args.max_steps)]:
    if value is not None:
        budget += [flag, str(value)]


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(p.stdout, end="", flush=True)
    if p.returncode != 0:
        sys.exit(f"curate_study: {cmd[0]} exited {p.returncode}")
    return p.stdout


start = time.time()
for name in ["candidates.csv", "reviewer.jsonl"]:
    if os.path.exists(path(name)):
        os.remove(path(name))
init = path("init.pt")
if os.path.exists(init):
    os.remove(init)
initial = [a for flag, value in zip(budget[::2], budget[1::2]) if flag != "--max-steps" for a in (flag, value)]
run([train, *initial, "--max-steps", "0", "--export", init, "--quiet"])
run([curate, "mine", "--init", init, *data, "--k", str(args.k), "--out", path("candidates.csv"), "--json",
     path("mine.json"), "--quiet"])

# The scripted reviewer, through the same API the page uses: every pair, one decision each.
server = subprocess.Popen([curate, "review", *data, "--candidates", path("candidates.csv"), "--journal",
                           path("reviewer.jsonl"), "--reviewer", "scripted"], stdout=subprocess.PIPE, text=True)
url = None
while url is None:
    line = server.stdout.readline()
    if not line:
        sys.exit("curate_study: curate review ended before printing its URL")
    m = re.search(r"open (http://[^/]+)/\?token=(\w+)", line)
    if m:
        url, token = m.group(1), m.group(2)


def call(method, route, body=None):
    req = urllib.request.Request(url + route + ("&" if "?" in route else "?") + "token=" + token,
                                 data=json.dumps(body).encode() if body is not None else None, method=method)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


total = call("GET", "/api/state")["pairs"]
reviewed, accepted, offset = 0, 0, 0
review_start = time.time()
while offset < total:
    window = call("GET", f"/api/pairs?offset={offset}&limit=1000")
    for item in window["items"]:
        decision = "accept" if item["label_first"] == item["label_second"] else "reject"
        answer = call("POST", "/api/decide", {"pair": item["pair"], "decision": decision})
        assert answer["saved"], answer
        reviewed += 1
        accepted += decision == "accept"
    offset += len(window["items"])
review_seconds = time.time() - review_start
server.terminate()
server.wait(timeout=60)
print(f"scripted review: {reviewed} pairs decided ({accepted} accepted) in {review_seconds:.1f} s, "
      f"{reviewed / max(review_seconds, 1e-9):.0f} saved decisions/s (each flushed to disk before its answer)", flush=True)

run([curate, "export", "--candidates", path("candidates.csv"), "--journal", path("reviewer.jsonl"), "--out",
     path("reviewed.csv"), "--json", path("export.json")])
run([curate, "export", "--candidates", path("candidates.csv"), "--unreviewed", "--out", path("unreviewed.csv")])
runs = []
for name, positives in [("augmented", ["--positives", "augmented"]),
                        ("unreviewed", ["--positives", "semantic", "--pairs", path("unreviewed.csv")]),
                        ("reviewed", ["--positives", "semantic", "--pairs", path("reviewed.csv")])]:
    out = path(f"{name}.json")
    run([train, "--method", args.method, *positives, *budget, "--seeds", str(args.seeds), "--json", out, "--quiet"])
    runs.append(out)
run([curate, "compare", *runs, "--names", "augmented,unreviewed,reviewed", "--json", path("compare.json")])
# What the review itself adds: the reviewed table against the same candidates unreviewed.
run([curate, "compare", *runs[1:], "--names", "unreviewed,reviewed", "--json", path("compare_review.json")])
print(f"curate_study: done in {time.time() - start:.0f} s; files in {args.work}", flush=True)
