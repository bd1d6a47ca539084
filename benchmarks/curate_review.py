#!/usr/bin/env python3
"""Responsiveness of the `curate review` page with many candidates, as ratios against a small set:

  curate_review.py CURATE_EXE TRAIN_EXE WORK_DIR [--pairs 100000] [--nexts 900] [--keyboard 1000] [--json PATH] [--keep]

Two candidate sets are made with `TRAIN_EXE --max-steps 0 --export` and `CURATE_EXE mine`: ~1,000
pairs and at least --pairs. For each, `curate review` is started and the page opened in headless
Chromium (1400x1000); measured (key and click latencies in the page, with performance.now()):
- first pair: driver.get until #pair-id shows a pair and both images are loaded (5 loads);
- decisions: 50 keys a / r, keydown until #save-status[data-saves] grows and the next pair is shown;
- next: --nexts keys n, keydown until #pair-id changes (the page loads 200 pairs at a time, 20 of
  them behind, so every 180th press loads a window; those presses are also reported on their own);
- filter: class + minimum similarity + undecided only, click on Apply until #position changes;
- server: GET /api/pairs?offset=…&limit=200 with that filter, 100 offsets across the list (urllib).
Then, on the large set and a fresh journal, --keyboard pairs are decided by keys alone (a / r in a
seeded pattern, a few s and u; each key waits for the saved signal as above), the server is killed
(SIGKILL) right after the last save the page showed and restarted on that journal: the reopened
page must show the same progress and the pair after the last decided one, and `curate export`
exactly the pairs the script accepted (by its own record, as (first, second) from the candidates).
Prints a table (small, large, ratio large/small) with the machine and the candidate counts, and the
keyboard summary; --json writes them with the samples. Exit 1 when a keyboard check fails (saying
what was expected and what came), 77 when selenium, chromium or chromedriver is missing.
"""
import argparse, collections, csv, json, math, os, random, re, shutil, signal, statistics, subprocess, sys, time
import urllib.parse, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("curate"); ap.add_argument("train"); ap.add_argument("work")
ap.add_argument("--pairs", type=int, default=100000, help="candidates in the large set, at least")
ap.add_argument("--nexts", type=int, default=900, help="presses of n (at most the small set's size - 51)")
ap.add_argument("--keyboard", type=int, default=1000, help="pairs decided by keys on the large set, 0: none")
ap.add_argument("--json", help="write the table and the samples here")
ap.add_argument("--keep", action="store_true", help="keep the files made in WORK_DIR")
args = ap.parse_args()

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
except ImportError as e:
    print("skipped: selenium is missing (%s; Debian: python3-selenium, for /usr/bin/python3)" % e)
    sys.exit(77)
CHROMIUM = next(filter(None, [shutil.which(n) for n in ("chromium", "chromium-browser")]), None)
CHROMEDRIVER = shutil.which("chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    print("skipped: %s is missing" % ("chromium" if not CHROMIUM else "chromedriver"))
    sys.exit(77)

WORK = os.path.abspath(args.work)
os.makedirs(WORK, exist_ok=True)
CURATE, TRAIN = os.path.abspath(args.curate), os.path.abspath(args.train)
LOADS, DECISIONS, NEXTS, SERVER_CALLS = 5, 50, args.nexts, 100
SEED = 1    # of the keyboard part's key pattern
made = []   # files made in WORK, removed at the end
live = []   # servers started, stopped at the end
work_file = lambda name: made.append(os.path.join(WORK, name)) or made[-1]


def make_candidates(tag, per_class, k):
    """Untrained weights, then mined candidates; returns the file and its rows (dicts)."""
    init, out = work_file("init-%s.pt" % tag), work_file("candidates-%s.csv" % tag)
    for cmd in ([TRAIN, "--per-class", str(per_class), "--batch-size", "64", "--max-steps", "0",
                 "--export", init, "--quiet"],
                [CURATE, "mine", "--init", init, "--per-class", str(per_class), "--k", str(k), "--out", out, "--quiet"]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    with open(out, newline="") as f:
        return out, list(csv.DictReader(line for line in f if not line.startswith("#")))


class Server:
    """`curate review` in its own process group, its output in a log file; a fresh journal unless restart."""

    def __init__(self, tag, per_class, candidates, restart=False):
        self.log = work_file("server-%s%s.log" % (tag, "-restart" if restart else ""))
        self.journal = work_file("journal-%s.jsonl" % tag)
        if os.path.exists(self.journal) and not restart:
            os.remove(self.journal)   # left by an earlier --keep
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([CURATE, "review", "--per-class", str(per_class), "--candidates",
                                          candidates, "--journal", self.journal, "--port", "0"],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        live.append(self)
        deadline = time.time() + 120
        while time.time() < deadline and self.proc.poll() is None:
            m = re.search(r"curate review: open (http://\S+)", open(self.log).read())
            if m:
                self.url = m.group(1)
                return
            time.sleep(0.1)
        self.stop()
        sys.exit("curate review printed no address; its output:\n" + open(self.log).read()[-3000:])

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


# Arms a watcher in the page: it notes the first keydown/click after this call and the moment the
# condition `kind` holds (checked on every DOM change, image load and every 25 ms), with the number
# of /api/pairs requests made in between; for 'decided', also the moment #save-status[data-saves] grew.
ARM = """
const [kind, before] = arguments, $ = (id) => document.getElementById(id);
const b = window.__bench = {event: null, saved: null, result: null, notify: null}, stop = new AbortController();
performance.setResourceTimingBufferSize(100000);
performance.clearResourceTimings();
const mark = () => { if (b.event === null) b.event = performance.now(); };
const loaded = (id) => { const e = $(id); return e.complete && e.naturalWidth > 0 && !e.classList.contains('loading'); };
const met = () => {
  const pair = $('pair-id').textContent.trim();
  if (kind === 'first') return /^\\d+$/.test(pair) && loaded('image-first') && loaded('image-second');
  if (kind === 'decided') return pair !== before.pair && Number($('save-status').dataset.saves) > before.saves;
  if (kind === 'moved') return pair !== before.pair;
  return $('position').dataset.query !== before.query;  // 'filtered'
};
const check = () => {
  if (kind === 'decided' && b.saved === null && Number($('save-status').dataset.saves) > before.saves) b.saved = performance.now();
  if (b.result || !met()) return;
  const now = performance.now(), res = performance.getEntriesByType('resource'), since = (t) => b.event === null ? null : t - b.event;
  b.result = {ms: since(now), saved: b.saved === null ? null : since(b.saved), loads: res.filter((e) => e.name.includes('/api/pairs')).length};
  stop.abort(); observer.disconnect(); clearInterval(timer);
  if (b.notify) b.notify(b.result);
};
const observer = new MutationObserver(check);
observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
for (const t of ['keydown', 'click']) document.addEventListener(t, mark, {capture: true, signal: stop.signal});
document.addEventListener('load', check, {capture: true, signal: stop.signal});
const timer = setInterval(check, 25);
check();
"""
COLLECT = """
const done = arguments[arguments.length - 1], b = window.__bench;
if (b.result) done(b.result); else b.notify = done;
"""
SHOWN = """const $ = (id) => document.getElementById(id);
return {pair: $('pair-id').textContent.trim(), saves: Number($('save-status').dataset.saves),
        query: $('position').dataset.query, position: $('position').textContent};"""
PROGRESS = "return document.getElementById('progress').textContent;"


def start_browser():
    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--window-size=1400,1000", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    try:
        d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except WebDriverException as e:
        print("skipped: chromedriver cannot start chromium (%s)" % str(e).strip().splitlines()[0])
        sys.exit(77)
    d.set_page_load_timeout(120)
    d.set_script_timeout(120)
    return d


def timed_key(driver, kind, key):
    """Presses key on the page (nothing focused); returns the watcher's {ms, loads}."""
    driver.execute_script(ARM, kind, driver.execute_script(SHOWN))
    driver.execute_script("if (document.activeElement) document.activeElement.blur();")
    ActionChains(driver).send_keys(key).perform()
    return driver.execute_async_script(COLLECT)


def api_pairs(url, params):
    base, token = url.split("/?token=")
    req = urllib.request.Request(base + "/api/pairs?" + urllib.parse.urlencode(params),
                                 headers={"X-Selfsup-Token": token})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def measure(driver, url, classes, min_cos):
    s = {"first": [], "filter": [], "server": []}
    for _ in range(LOADS):
        t0 = time.perf_counter()
        driver.get(url)
        driver.execute_script(ARM, "first", {})
        driver.execute_async_script(COLLECT)
        s["first"].append(1000 * (time.perf_counter() - t0))
    s["decide"] = [timed_key(driver, "decided", "ar"[i % 2])["ms"] for i in range(DECISIONS)]
    k, total = map(int, re.findall(r"\d+", driver.execute_script(SHOWN)["position"]))
    nexts = [timed_key(driver, "moved", "n") for _ in range(min(NEXTS, total - k))]   # never past the end
    s["next"] = [r["ms"] for r in nexts]
    s["next_window"] = [r["ms"] for r in nexts if r["loads"]]
    for cls in classes:
        Select(driver.find_element(By.ID, "filter-class")).select_by_value(cls)
        driver.execute_script("document.getElementById('filter-min').value = arguments[0];", repr(min_cos))
        box = driver.find_element(By.ID, "filter-undecided")
        if not box.is_selected():
            box.click()
        driver.execute_script(ARM, "filtered", driver.execute_script(SHOWN))
        driver.find_element(By.ID, "apply-filter").click()
        s["filter"].append(driver.execute_async_script(COLLECT)["ms"])
    query = {"class": classes[0], "min": repr(min_cos), "undecided": 1}
    total = s["server_filtered_total"] = api_pairs(url, dict(query, offset=0, limit=1))["total"]
    for i in range(SERVER_CALLS):
        offset = round(i * max(0, total - 200) / (SERVER_CALLS - 1))
        t0 = time.perf_counter()
        api_pairs(url, dict(query, offset=offset, limit=200))
        s["server"].append(1000 * (time.perf_counter() - t0))
    return s


p95 = lambda xs: sorted(xs)[max(0, math.ceil(0.95 * len(xs)) - 1)] if xs else None   # nearest rank
median = lambda xs: statistics.median(xs) if xs else None
ROWS = [("first pair shown, median of %d loads (ms)" % LOADS, "first", median),
        ("decision key -> saved + next shown, median (ms)", "decide", median),
        ("decision key -> saved + next shown, p95 (ms)", "decide", p95),
        ("next (n) -> pair changed, median (ms)", "next", median),
        ("next (n) that loaded a window, median (ms)", "next_window", median),
        ("next (n) presses, count", "next", len),
        ("next (n) that loaded a window, count", "next_window", len),
        ("filter applied -> #position, median (ms)", "filter", median),
        ("GET /api/pairs filtered limit=200, median of %d (ms)" % SERVER_CALLS, "server", median)]


class Failure(Exception):
    pass


def check(what, expected, got):
    if expected != got:
        raise Failure("%s\n  expected: %s\n  got:      %s" % (what, expected, got))


def keyboard(driver, tag, per_class, path, rows, n):
    """n pairs decided by keys alone on a fresh journal, the server killed and restarted, then exported.
    Returns the summary; a failed check is noted in it (nothing_lost false, failure: the message)."""
    kb = {"decisions": 0, "keys": collections.Counter(), "saved_ms": [], "wall_s": None, "per_minute": None,
          "saved_median_ms": None, "nothing_lost": False, "failure": None}
    decisions, undoable = {}, []   # the script's own record: pair -> decision; pairs a u would undo
    decided = lambda: sum(d in ("accept", "reject") for d in decisions.values())
    pair, key, rng = 0, None, random.Random(SEED)
    server = Server(tag + "-keyboard", per_class, path)
    try:
        driver.get(server.url)   # no #filter: the whole list, from pair 0 (nothing decided yet)
        driver.execute_script(ARM, "first", {})
        driver.execute_async_script(COLLECT)
        t0 = time.perf_counter()
        while decided() < n:
            # 2 %: u (only right after a decision, so never twice running), 3 %: s, else a (60 %) or r;
            # the last key is always a or r, since only they raise the count
            x = rng.random()
            key = "u" if x < 0.02 and key in ("a", "r", "s") else "s" if x < 0.05 else "a" if rng.random() < 0.6 else "r"
            check("before key %s: #pair-id" % key, str(pair), driver.execute_script(SHOWN)["pair"])
            r = timed_key(driver, "decided", key)   # saved, and the next (or the undone) pair shown
            kb["keys"][key] += 1
            kb["saved_ms"].append(r["saved"])
            # every key here meets an undecided pair: the page only moves on, or back to the pair undone
            if key == "u":
                pair = undoable.pop()
                del decisions[pair]
            else:
                decisions[pair] = {"a": "accept", "r": "reject", "s": "skip"}[key]
                undoable.append(pair)
                pair += 1
        kb["wall_s"] = time.perf_counter() - t0
        kb["per_minute"] = 60 * n / kb["wall_s"]
        kb["saved_median_ms"] = median([float(x) for x in kb["saved_ms"] if x is not None])
        # killed right after the last save the page showed; what the page shows is read after
        server.kill()
        shown, progress = driver.execute_script(SHOWN)["pair"], driver.execute_script(PROGRESS)
        mine = tuple(sum(d == k for d in decisions.values()) for k in ("accept", "reject", "skip"))
        check("before the kill: #pair-id, the pair after the last decided one", str(pair), shown)
        m = re.search(r"reviewed (\d+) .* accepted (\d+) .* rejected (\d+) .* skipped (\d+)", progress)
        check("before the kill: #progress (reviewed, accepted, rejected, skipped)",
              (mine[0] + mine[1],) + mine, m and tuple(map(int, m.groups())) or progress)
        server = Server(tag + "-keyboard", per_class, path, restart=True)
        driver.get(server.url)
        driver.execute_script(ARM, "first", {})
        driver.execute_async_script(COLLECT)
        check("after the restart: #progress", progress, driver.execute_script(PROGRESS))
        check("after the restart: #pair-id, the pair after pair %d (the last decided)" % (pair - 1), str(pair),
              driver.execute_script(SHOWN)["pair"])
        server.stop()
        out = work_file("pairs-%s-keyboard.csv" % tag)
        p = subprocess.run([CURATE, "export", "--candidates", path, "--journal", server.journal, "--out", out],
                           capture_output=True, text=True)
        check("curate export: exit status", 0,
              p.returncode if p.returncode == 0 else "%d, output:\n%s%s" % (p.returncode, p.stdout, p.stderr))
        with open(out, newline="") as f:
            table = list(csv.reader(line for line in f if not line.startswith("#")))
        check("the exported table's header", ["first", "second"], table[0] if table else None)
        by_id = {int(r["pair"]): r for r in rows}
        want = collections.Counter((by_id[q]["first"], by_id[q]["second"]) for q, d in decisions.items() if d == "accept")
        got = collections.Counter(tuple(r) for r in table[1:] if r)
        check("the exported pairs: count, missing, not accepted (at most 5 of each)",
              (sum(want.values()), [], []), (sum(got.values()), sorted(want - got)[:5], sorted(got - want)[:5]))
        kb["nothing_lost"] = True
    except Failure as e:
        kb["failure"] = str(e)
    kb["decisions"] = decided()
    return kb


def main():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    machine = {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu, "loadavg": os.getloadavg()}
    print("machine: %d CPUs (nproc), %s, load average %.2f %.2f %.2f" % ((machine["nproc"], cpu) + machine["loadavg"]))
    # (tag, images per class, neighbours): 10 classes, mining keeps ~0.8 pairs per image and neighbour
    sets = [("small", 40, 3), ("large", math.ceil(args.pairs / (0.8 * 10 * 10)), 10)]
    made_sets, driver, results, kb = {}, None, {}, None
    try:
        for tag, per_class, k in sets:
            for _ in range(3):
                path, rows = make_candidates(tag, per_class, k)
                if tag == "small" or len(rows) >= args.pairs:
                    break
                per_class = math.ceil(per_class * 1.05 * args.pairs / len(rows))
            made_sets[tag] = (path, rows, per_class, k)
            print("%s: %d candidates (--per-class %d --k %d) in %s" % (tag, len(rows), per_class, k, path), flush=True)
        driver = start_browser()
        for tag, (path, rows, per_class, k) in made_sets.items():
            classes = sorted({r["label_first"] for r in rows}, key=lambda c: (len(c), c))
            min_cos = round(statistics.median(float(r["cosine"]) for r in rows), 6)
            server = Server(tag, per_class, path)
            print("%s: measuring at %s (filter: min similarity %s)" % (tag, server.url.split("?")[0], min_cos), flush=True)
            results[tag] = measure(driver, server.url, classes, min_cos)
            server.stop()
        if args.keyboard > 0:
            path, rows, per_class, _ = made_sets["large"]
            print("large: %d pairs decided by keyboard, then SIGKILL, restart, export" % args.keyboard, flush=True)
            kb = keyboard(driver, "large", per_class, path, rows, args.keyboard)
    finally:
        for server in live:
            server.stop()
        if driver:
            driver.quit()
        for f in [] if args.keep else set(made):
            if os.path.exists(f):
                os.remove(f)

    small, large = results["small"], results["large"]
    counts = {t: len(made_sets[t][1]) for t in made_sets}
    table = []
    for label, key, f in ROWS:
        a, b = f(small[key]), f(large[key])
        ratio = b / a if f is not len and a and b is not None else None   # no ratio for a count
        if f is not len:  # the page's timer may give whole milliseconds: still times, not counts
            a, b = (None if v is None else float(v) for v in (a, b))
        table.append({"measure": label, "small": a, "large": b, "ratio": ratio})
    head = "%-52s %12s %12s %8s" % ("measure", "%d pairs" % counts["small"], "%d pairs" % counts["large"], "ratio")
    print("\n" + head + "\n" + "-" * len(head))
    cell = lambda v, fmt: "-" if v is None else "%d" % v if isinstance(v, int) else fmt % v
    for r in table:
        print("%-52s %12s %12s %8s" % (r["measure"], cell(r["small"], "%.1f"), cell(r["large"], "%.1f"),
                                       cell(r["ratio"], "%.2f")))
    print("(ratio = large / small; filtered list of the server measure: %d and %d pairs)"
          % (small["server_filtered_total"], large["server_filtered_total"]))
    if kb:
        keys = ", ".join("%s %d" % (k, kb["keys"][k]) for k in "arsu")
        print("\nkeyboard on the large set (%d pairs, fresh journal, seed %d)" % (counts["large"], SEED))
        for label, v in [("decisions (pairs accepted or rejected)", "%d" % kb["decisions"]),
                         ("keys pressed", "%d (%s)" % (sum(kb["keys"].values()), keys)),
                         ("wall time, first key -> last saved (s)", cell(kb["wall_s"], "%.1f")),
                         ("decisions per minute", cell(kb["per_minute"], "%.1f")),
                         ("key -> saved, median (ms)", cell(kb["saved_median_ms"], "%.1f")),
                         ("nothing lost (SIGKILL, restart, export)", "yes" if kb["nothing_lost"] else "no")]:
            print("%-52s %s" % (label, v))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "candidates": counts, "table": table, "samples": results,
                       "keyboard": kb, "per_class_k": {t: made_sets[t][2:] for t in made_sets}}, f, indent=1)
        print("wrote " + args.json)
    if kb and kb["failure"]:
        sys.exit("FAILED: " + kb["failure"])


main()
