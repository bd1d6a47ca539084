#!/usr/bin/env python3
"""curate end to end without a browser: mine candidates, review them through the page's HTTP API
(the token, malformed and random requests, a server killed with SIGKILL mid-review and
restarted), export from one and from two reviewers (agreement, --agree rules), train on the
exported table, and compare runs; then the same path on an image folder (candidates named by
path, images served as their files are).

    check_curate.py BIN_DIR WORK_DIR

BIN_DIR holds curate and train. Exits 1 with what was expected and what came on the first
failure. The pairs a reviewer accepted are tracked here, from what this script did, and the
exported table is compared with them.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

BIN, WORK = sys.argv[1], sys.argv[2]
CURATE, TRAIN = os.path.join(BIN, "curate"), os.path.join(BIN, "train")
DATA = ["--per-class", "20"]


RUNNING = []  # the servers started and not yet stopped: a failure stops them too


def fail(message):
    print("check_curate: FAILED: " + message, flush=True)
    for server in RUNNING:
        server.kill()
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def run(args, ok=True):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if ok and p.returncode != 0:
        fail(f"{' '.join(args)} exited {p.returncode}:\n{p.stdout}")
    if not ok and p.returncode == 0:
        fail(f"{' '.join(args)} should have failed:\n{p.stdout}")
    return p.stdout


class Server:
    def __init__(self, journal, *extra):
        self.proc = subprocess.Popen([CURATE, "review", *DATA, "--candidates", CANDIDATES, "--journal", journal, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        RUNNING.append(self.proc)
        deadline = time.time() + 60
        self.output = []
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                fail("curate review ended before printing its URL:\n" + "".join(self.output))
            self.output.append(line)
            m = re.search(r"open (http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]+))", line)
            if m:
                self.url, self.base, self.token = m.group(1), f"http://127.0.0.1:{m.group(2)}", m.group(3)
                return
        fail("curate review printed no URL within 60 s")

    def call(self, method, path, body=None, token=True, raw=None):
        url = self.base + path
        if token:
            url += ("&" if "?" in path else "?") + "token=" + self.token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                payload = r.read()
                kind = r.headers.get("Content-Type", "")
                return r.status, (json.loads(payload) if kind.startswith("application/json") else payload)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rest, _ = self.proc.communicate(timeout=30)
        RUNNING.remove(self.proc)
        self.output.append(rest)
        return self.proc.returncode


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
INIT = os.path.join(WORK, "init.pt")
CANDIDATES = os.path.join(WORK, "candidates.csv")
run([TRAIN, *DATA, "--batch-size", "32", "--max-steps", "0", "--export", INIT, "--quiet"])
out = run([CURATE, "mine", "--init", INIT, *DATA, "--k", "4", "--out", CANDIDATES, "--json", os.path.join(WORK, "mine.json"), "--quiet"])
mined = json.load(open(os.path.join(WORK, "mine.json")))
rows = [line.split(",") for line in open(CANDIDATES) if not line.startswith("#")][1:]
expect(len(rows) == mined["candidates"] > 0, f"mine.json says {mined['candidates']} candidates, the file holds {len(rows)}")
expect(all(int(r[4]) >= 1 for r in rows), "every candidate's rank is >= 1")
expect(mined["images"] == 200 and mined["k"] == 4, f"mine.json: {mined}")
pairs = {int(r[0]): (r[1], r[2], r[9], r[10].strip()) for r in rows}

# --- one reviewer through the API ------------------------------------------------------------
alice = os.path.join(WORK, "alice.jsonl")
s = Server(alice, "--reviewer", "alice")
code, body = s.call("GET", "/api/state", token=False)
expect(code == 403, f"no token: expected 403, got {code} {body}")
code, body = s.call("GET", "/api/state?token=" + "0" * 32, token=False)
expect(code == 403 and "wrong token" in body["error"], f"wrong token: expected 403, got {code} {body}")
code, state = s.call("GET", "/api/state")
expect(code == 200 and state["pairs"] == len(rows) and state["reviewer"] == "alice" and state["labels"],
       f"state: {code} {state}")
expect(state["counts"]["undecided"] == len(rows) and state["resume_pair"] is None, f"a new journal: {state}")
# Malformed requests: 4xx with a reason, and the server stays up.
for method, path, raw, status in [("POST", "/api/decide", b"not json", 400), ("POST", "/api/decide", b"[1,2]", 400),
                                  ("POST", "/api/decide", b'{"pair":"x","decision":"accept"}', 400),
                                  ("POST", "/api/decide", b'{"pair":100000,"decision":"accept"}', 404),
                                  ("POST", "/api/decide", b'{"pair":0,"decision":"maybe"}', 400),
                                  ("POST", "/api/decide", b"x" * 70000, 413),
                                  ("GET", "/api/decide", None, 405), ("GET", "/api/pairs?limit=0", None, 400),
                                  ("GET", "/api/pairs?limit=5000", None, 400), ("GET", "/api/pairs?min=abc", None, 400),
                                  ("GET", "/api/pairs?class=nope", None, 400), ("GET", "/image/999999", None, 404),
                                  ("GET", "/image/-1", None, 404), ("GET", "/../../etc/passwd", None, 404),
                                  ("GET", "/api/position", None, 400), ("POST", "/api/undo", b"{}", 409)]:
    code, body = s.call(method, path, raw=raw)
    if path.startswith("/.."):
        status = code if code in (400, 404) else 404  # refused as a bad path or as no page: both say so
    expect(code == status and isinstance(body, dict) and body.get("error"),
           f"{method} {path} {raw[:40] if raw else ''}: expected {status} with a reason, got {code} {body}")
# Random requests (paths, methods, bodies): every answer a status with a reason, no crash, and
# nothing decided.
import random
rng = random.Random(7)
for _ in range(300):
    path = rng.choice(["/api/decide", "/api/undo", "/api/bulk", "/api/pairs", "/api/position", "/image/",
                       "/api/state", "/x", "/"]) + rng.choice(["", "?offset=-5", "?limit=abc&class=%00", "?pair=1e99",
                                                               "?min=nan&max=inf", "12345678901234567890", "?undecided=2"])
    body = rng.choice([None, b"", b"{", b'{"pair":-1,"decision":"accept"}', b'{"decision":"accept","filter":5,"expected":0}',
                       b'{"decision":"accept","filter":{"min":"a"},"expected":1}', bytes(rng.randrange(256) for _ in range(64)),
                       b'{"pair":1.5,"decision":"reject"}', b'{"pair":0,"decision":null}'])
    code, answer = s.call(rng.choice(["GET", "POST", "PUT", "DELETE"]), path, raw=body)
    expect(code in (200, 400, 403, 404, 405, 409, 413) and (code == 200 or (isinstance(answer, dict) and answer.get("error"))),
           f"random request {path} {body!r}: {code} {answer}")
expect(s.proc.poll() is None, "the server is still running after the random requests")
code, after = s.call("GET", "/api/state")
expect(after["counts"]["undecided"] == len(rows), f"random requests decided nothing: {after['counts']}")
code, img = s.call("GET", "/image/0")
expect(code == 200 and img[:8] == b"\x89PNG\r\n\x1a\n", f"an image: {code} {img[:16]}")

accepted = set()
decided = {}


def decide(server, pair, decision):
    code, body = server.call("POST", "/api/decide", {"pair": pair, "decision": decision})
    expect(code == 200 and body["saved"] and body["pair"] == pair, f"decide {pair} {decision}: {code} {body}")
    decided[pair] = decision
    if decision == "accept":
        accepted.add(pair)
    else:
        accepted.discard(pair)


for p in range(6):
    decide(s, p, "accept" if p % 2 == 0 else "reject")
code, body = s.call("POST", "/api/undo", {})
expect(code == 200 and body["undone"] == [5] and body["decisions"] == {"5": ""}, f"undo: {code} {body}")
del decided[5]
# A bulk accept of class 3's undecided pairs, with the count the page would confirm.
code, window = s.call("GET", "/api/pairs?class=3&undecided=1&limit=1000")
expect(code == 200 and window["total"] == len(window["items"]) > 0, f"class 3 window: {code} {window}")
expect(all("3" in (i["label_first"], i["label_second"]) and i["decision"] in ("", "skip") for i in window["items"]),
       "the class filter keeps pairs with an image of class 3, undecided")
code, body = s.call("POST", "/api/bulk", {"decision": "accept", "filter": {"class": "3", "undecided": True}, "expected": 1})
expect(code == 409 and body["error"].startswith("the filter now matches"), f"bulk with a stale count: {code} {body}")
code, body = s.call("POST", "/api/bulk", {"decision": "accept", "filter": {"class": "3", "undecided": True},
                                           "expected": window["total"]})
expect(code == 200 and body["count"] == window["total"], f"bulk: {code} {body}")
for item in window["items"]:
    decided[item["pair"]] = "accept"
    accepted.add(item["pair"])
last = max(p for p in range(len(rows)) if p not in decided)
decide(s, last, "reject")
code, state = s.call("GET", "/api/state")
expect(state["counts"]["accept"] == len(accepted), f"counts after the bulk: {state['counts']} vs {len(accepted)} accepted")
# Killed without warning right after a saved decision: nothing the API reported saved is lost.
decide(s, 6, "accept")
shown = s.call("GET", "/api/state")[1]["counts"]
expect(s.stop(signal.SIGKILL) == -signal.SIGKILL, "SIGKILL ends the server")
s = Server(alice)
code, state = s.call("GET", "/api/state")
expect(state["counts"] == shown, f"after SIGKILL and a restart: counts {state['counts']}, shown before {shown}")
expect(state["resume_pair"] == 7, f"resumes after the last decided pair (6): {state['resume_pair']}")
code, pos = s.call("GET", "/api/position?pair=7&undecided=1")
expect(code == 200 and 0 <= pos["position"] <= pos["total"], f"position: {pos}")
decide(s, 7, "skip")
expect(s.stop() == 0, "SIGTERM stops the server cleanly:\n" + "".join(s.output))
expect("stopped;" in "".join(s.output), "the server says it stopped")

# The journal is refused with other candidates, or under another reviewer's name.
other = os.path.join(WORK, "other.csv")
run([CURATE, "mine", "--init", INIT, *DATA, "--k", "3", "--out", other, "--quiet"])
out = run([CURATE, "review", *DATA, "--candidates", other, "--journal", alice], ok=False)
expect("was written against other candidates" in out, "a journal of other candidates: " + out)
out = run([CURATE, "review", *DATA, "--candidates", CANDIDATES, "--journal", alice, "--reviewer", "bob"], ok=False)
expect("is the journal of reviewer 'alice', not of 'bob'" in out, "another reviewer's journal: " + out)
out = run([CURATE, "review", "--per-class", "30", "--candidates", CANDIDATES, "--journal", alice], ok=False)
expect("was mined on other data" in out and "--per-class 30 here, 20 when mined" in out, "other data: " + out)

# --- export: one reviewer -----------------------------------------------------------------------
table = os.path.join(WORK, "alice.csv")
report = os.path.join(WORK, "alice.json")
out = run([CURATE, "export", "--candidates", CANDIDATES, "--journal", alice, "--out", table, "--json", report])


def read_table(path):
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
    expect(lines[0] == "first,second", f"{path}: header {lines[0]!r}")
    return [tuple(l.split(",")) for l in lines[1:]]


got = read_table(table)
want = [pairs[p][:2] for p in sorted(accepted)]
expect(sorted(got) == sorted(want), f"exported {len(got)} pairs, accepted {len(want)}: {sorted(set(got) ^ set(want))[:5]}")
rep = json.load(open(report))
same = sum(1 for p in accepted if pairs[p][2] == pairs[p][3])
expect(rep["accepted"] == len(accepted) and abs(rep["precision"] - same / len(accepted)) < 1e-12, f"report: {rep}")
expect(rep["reviewers"][0]["skip"] == 1, f"one skipped pair: {rep['reviewers']}")

# --- two reviewers: Cohen's kappa, the rules, the disagreements --------------------------------
bob = os.path.join(WORK, "bob.jsonl")
s = Server(bob, "--reviewer", "bob")
for p in range(10):
    s.call("POST", "/api/decide", {"pair": p, "decision": "accept" if p < 5 else "reject"})
s.stop()
a = {p: d for p, d in decided.items() if d in ("accept", "reject") and p < 10}
b = {p: ("accept" if p < 5 else "reject") for p in range(10)}
both = [p for p in a if p in b]
po = sum(a[p] == b[p] for p in both) / len(both)
pa, pb = sum(a[p] == "accept" for p in both) / len(both), sum(b[p] == "accept" for p in both) / len(both)
pe = pa * pb + (1 - pa) * (1 - pb)
kappa = (po - pe) / (1 - pe)
for rule, keep in [("all", lambda x, y: x == y == "accept"), ("any", lambda x, y: "accept" in (x, y)),
                   ("majority", lambda x, y: x == y == "accept")]:
    out_table = os.path.join(WORK, f"agree_{rule}.csv")
    out_json = os.path.join(WORK, f"agree_{rule}.json")
    run([CURATE, "export", "--candidates", CANDIDATES, "--journal", alice, "--journal", bob, "--agree", rule,
         "--out", out_table, "--json", out_json, "--disagreements", os.path.join(WORK, "disagree.csv")])
    rep = json.load(open(out_json))
    expect(abs(rep["kappa"]["value"] - kappa) < 1e-9 and rep["kappa"]["items"] == len(both),
           f"Cohen's kappa: {rep['kappa']} against {kappa} over {len(both)}")
    want = sorted(pairs[p][:2] for p in range(len(rows)) if keep(decided.get(p, ""), b.get(p, "")))
    expect(sorted(read_table(out_table)) == want, f"--agree {rule}: {sorted(read_table(out_table))} against {want}")
dis = [l for l in open(os.path.join(WORK, "disagree.csv"))][1:]
expect(len(dis) == sum(a[p] != b[p] for p in both), f"disagreements: {len(dis)}")
out = run([CURATE, "export", "--candidates", CANDIDATES, "--journal", alice, "--journal", alice, "--out", table], ok=False)
expect("are both the journal of reviewer 'alice'" in out, "one reviewer twice: " + out)
out = run([CURATE, "export", "--candidates", other, "--journal", alice, "--out", table], ok=False)
expect("was written against other candidates" in out, "export with other candidates: " + out)
out = run([CURATE, "export", "--candidates", CANDIDATES, "--out", table], ok=False)
expect("give the review journals" in out, "export without journals: " + out)

# --- train on the table; compare runs ----------------------------------------------------------
unreviewed = os.path.join(WORK, "unreviewed.csv")
run([CURATE, "export", "--candidates", CANDIDATES, "--unreviewed", "--out", unreviewed])
expect(len(read_table(unreviewed)) == len(rows), "--unreviewed exports every candidate")
runs = []
for name, extra in [("augmented", ["--positives", "augmented"]), ("reviewed", ["--positives", "semantic", "--pairs", table])]:
    path = os.path.join(WORK, f"{name}.json")
    out = run([TRAIN, *DATA, "--batch-size", "32", "--max-steps", "2", "--seeds", "2", "--json", path, "--quiet", *extra])
    if name == "reviewed":
        expect(f"--pairs {table}: {len(accepted)} pairs" in out, "train reads the exported table: " + out)
    runs.append(path)
out = run([CURATE, "compare", *runs, "--names", "augmented,reviewed", "--json", os.path.join(WORK, "compare.json")])
cmp = json.load(open(os.path.join(WORK, "compare.json")))
r0, r1 = (json.load(open(p)) for p in runs)
diff = sum(x - y for x, y in zip(r1["knn_top1_runs"], r0["knn_top1_runs"])) / 2
expect(abs(cmp[1]["vs_augmented"]["knn_top1"]["mean"] - diff) < 1e-9, f"compare's paired mean {cmp[1]} against {diff}")
# --- an image folder: candidates named by path, images served as the files are -------------------
from PIL import Image
folder = os.path.join(WORK, "folder")
for split, count in [("train", 8), ("val", 2)]:
    for c, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        os.makedirs(os.path.join(folder, split, f"class{c}"), exist_ok=True)
        for i in range(count):
            shade = tuple(max(0, min(255, v + 9 * i - 20)) for v in colour)
            image = Image.new("RGB", (20, 16), shade)
            image.putpixel((i, i), (255, 255, 255))
            image.save(os.path.join(folder, split, f"class{c}", f"img{i}.png"))
FOLDER = ["--data", "folder:" + folder, "--image-size", "16"]
folder_init = os.path.join(WORK, "folder_init.pt")
run([TRAIN, *FOLDER, "--backbone", "small_cnn", "--batch-size", "6", "--max-steps", "0", "--export", folder_init, "--quiet"])
CANDIDATES = os.path.join(WORK, "folder_candidates.csv")
run([CURATE, "mine", "--init", folder_init, *FOLDER, "--k", "2", "--out", CANDIDATES, "--quiet"])
folder_rows = [line.strip().split(",") for line in open(CANDIDATES) if not line.startswith("#")][1:]
expect(folder_rows and all(r[1].startswith("class") and r[1].endswith(".png") and r[9] == r[1].split("/")[0]
                           for r in folder_rows), f"folder candidates are paths under train/ with their class: {folder_rows[:3]}")
DATA = FOLDER
s = Server(os.path.join(WORK, "folder.jsonl"))
code, window = s.call("GET", "/api/pairs?limit=1000")
expect(code == 200 and window["total"] == len(folder_rows), f"folder pairs: {code} {window.get('total')}")
for item in window["items"][:4]:
    code, served = s.call("GET", f"/image/{item['first_image']}")
    on_disk = open(os.path.join(folder, "train", item["first"]), "rb").read()
    expect(code == 200 and served == on_disk, f"image {item['first_image']} is the file {item['first']} as it is")
decide(s, 0, "accept")
decide(s, 1, "accept")
s.stop()
folder_table = os.path.join(WORK, "folder_pairs.csv")
run([CURATE, "export", "--candidates", CANDIDATES, "--journal", os.path.join(WORK, "folder.jsonl"), "--out", folder_table])
want = sorted(tuple(folder_rows[p][1:3]) for p in (0, 1))
expect(sorted(read_table(folder_table)) == want, f"folder export: {read_table(folder_table)} against {want}")
out = run([TRAIN, *FOLDER, "--backbone", "small_cnn", "--positives", "semantic", "--pairs", folder_table,
           "--batch-size", "6", "--max-steps", "1", "--quiet"])
expect(f"--pairs {folder_table}: 2 pairs" in out, "train reads the folder's exported table: " + out)
print("check_curate: all checks passed", flush=True)
