#!/usr/bin/env python3
"""The review page of `curate review` in headless Chromium, against the real server:

  browser_review.py CURATE_EXE WORK_DIR [--screenshot PATH]

WORK_DIR/candidates.csv must exist; WORK_DIR/journal.jsonl and WORK_DIR/pairs.csv are made anew.

- the page opens at the first pair with "reviewed 0 of N", both images loaded and shown at least
  320 px wide;
- keys a, r, a, s decide four pairs, each shown as saved before the page moves to the next pair;
  u undoes the skip and shows that pair again, undecided; p / n move back and forth;
- a class filter with "undecided only", then "Accept all filtered": the confirmation names the
  count the page shows as the filtered total (and the test's own count from the candidates file);
- a reload shows the same progress;
- the server killed with SIGKILL right after a decision the page showed as saved, then started
  again on the same journal: the new page shows the same progress and resumes at the pair after
  the last decided one;
- two more decisions, the server stopped with SIGTERM, `curate export`: the exported pairs are
  exactly those the test accepted (tracked by the test, not read back from the server).

Exit 0 on success, 1 on a failure (saying what was expected and what came), 77 (skipped) when
selenium, chromium or chromedriver is missing.

CURATE_TEST_SERVER_CMD, when set, is a shell command started instead of `CURATE_EXE review …`
(with WORK_DIR, CANDIDATES, JOURNAL in its environment); it must print the same
`curate review: open URL` line. `CURATE_EXE export` is still used for the export.
"""
import argparse
import collections
import csv
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("curate")
ap.add_argument("work")
ap.add_argument("--screenshot")
args = ap.parse_args()

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
except ImportError as e:
    print("skipped: selenium is missing (%s)" % e)
    sys.exit(77)


def find_program(fixed, *names):
    if os.access(fixed, os.X_OK):
        return fixed
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


CHROMIUM = find_program("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMEDRIVER = find_program("/usr/bin/chromedriver", "chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    print("skipped: %s is missing" % ("chromium" if not CHROMIUM else "chromedriver"))
    sys.exit(77)

WORK = os.path.abspath(args.work)
CURATE = os.path.abspath(args.curate) if os.sep in args.curate else args.curate
CANDIDATES = os.path.join(WORK, "candidates.csv")
JOURNAL = os.path.join(WORK, "journal.jsonl")
EXPORT = os.path.join(WORK, "pairs.csv")
TIMEOUT = 20


class Failure(Exception):
    pass


def fail(what, expected, got):
    raise Failure("%s\n  expected: %s\n  got:      %s" % (what, expected, got))


def ok(what):
    print("ok: " + what, flush=True)


# ---------------------------------------------------------------- candidates

def read_candidates():
    with open(CANDIDATES, newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    rows = {}
    for r in csv.DictReader(lines):
        rows[int(r["pair"])] = r
    return rows


if not os.path.exists(CANDIDATES):
    print("FAILED: %s does not exist (it is made before this test)" % CANDIDATES)
    sys.exit(1)
ROWS = read_candidates()
N = len(ROWS)
HAVE_LABELS = N > 0 and all((r.get("label_first") or "") != "" for r in ROWS.values())
for stale in (JOURNAL, EXPORT):
    if os.path.exists(stale):
        os.remove(stale)

# The test's own record of what it decided: pair -> "accept" | "reject" | "skip".
decisions = {}
undo_stack = []   # per action: [(pair, decision before)]


def record(pairs, decision):
    undo_stack.append([(p, decisions.get(p, "")) for p in pairs])
    for p in pairs:
        decisions[p] = decision


def record_undo():
    for p, before in undo_stack.pop():
        if before:
            decisions[p] = before
        else:
            decisions.pop(p, None)


def counts():
    c = {"accept": 0, "reject": 0, "skip": 0}
    for d in decisions.values():
        c[d] += 1
    return c


def reviewed(p):
    return decisions.get(p) in ("accept", "reject")


def in_filter(p, cls=None, undecided=False):
    r = ROWS[p]
    if cls is not None and cls not in (r["label_first"], r["label_second"]):
        return False
    return not (undecided and reviewed(p))


# ---------------------------------------------------------------- server

servers = []


class Server:
    count = 0

    def __init__(self):
        Server.count += 1
        self.log_path = os.path.join(WORK, "server-%d.log" % Server.count)
        self.log = open(self.log_path, "w")
        env = dict(os.environ, WORK_DIR=WORK, CANDIDATES=CANDIDATES, JOURNAL=JOURNAL)
        custom = os.environ.get("CURATE_TEST_SERVER_CMD")
        cmd = custom if custom else [CURATE, "review", "--data", "synthetic", "--per-class", "20",
                                     "--candidates", CANDIDATES, "--journal", JOURNAL,
                                     "--reviewer", "tester", "--port", "0"]
        print("starting: %s" % (cmd if custom else " ".join(cmd)), flush=True)
        # its own process group, so that a signal reaches a wrapping shell's children too
        self.proc = subprocess.Popen(cmd, shell=bool(custom), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        servers.append(self)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.time() + 60
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                if time.time() < deadline:
                    continue
                line = None
            if line is None:   # the output ended, or 60 s passed
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
                fail("the server's address line", "a line 'curate review: open http://127.0.0.1:PORT/?token=T' "
                     "within 60 s", "exit status %s, output:\n%s" % (self.proc.poll(), self.output()))
            m = re.search(r"curate review: open (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            if m:
                self.url = m.group(1)
                break

    def _read(self):
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.put(line)
        self.lines.put(None)

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def signal(self, sig):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig, timeout):
        self.signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(10)
            return None


# ---------------------------------------------------------------- browser helpers

def start_browser():
    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--window-size=1400,1000", "--disable-gpu",
              "--disable-dev-shm-usage"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except WebDriverException as e:
        print("skipped: chromium cannot be started by chromedriver (%s)" % str(e).strip().splitlines()[0])
        sys.exit(77)
    # the page itself 1400x1000 (the window's size includes what the browser draws around it)
    inner = d.execute_script("return [window.innerWidth, window.innerHeight];")
    if inner != [1400, 1000]:
        size = d.get_window_size()
        d.set_window_size(size["width"] + 1400 - inner[0], size["height"] + 1000 - inner[1])
    return d


def js(script, *a):
    return driver.execute_script(script, *a)


def text(element_id):
    return js("const e = document.getElementById(arguments[0]); return e ? e.textContent.trim() : null;",
              element_id)


def wait(what, expected, probe, test, timeout=TIMEOUT):
    """Polls probe() until test(value); fails naming what was expected and the last value."""
    deadline = time.time() + timeout
    while True:
        got = probe()
        if test(got):
            return got
        if time.time() >= deadline:
            fail(what, expected, got)
        time.sleep(0.05)


def progress_of(t):
    m = re.search(r"reviewed (\d+) of (\d+)", t or "")
    a = re.search(r"accepted (\d+)", t or "")
    s = re.search(r"skipped (\d+)", t or "")
    if not (m and a and s):
        return None
    return {"reviewed": int(m.group(1)), "of": int(m.group(2)), "accept": int(a.group(1)), "skip": int(s.group(1))}


def expected_progress():
    c = counts()
    return {"reviewed": c["accept"] + c["reject"], "of": N, "accept": c["accept"], "skip": c["skip"]}


def check_progress(what):
    exp = expected_progress()
    wait(what + ": #progress", "reviewed %(reviewed)d of %(of)d, accepted %(accept)d, skipped %(skip)d" % exp,
         lambda: text("progress"), lambda t: progress_of(t) == exp)


def position():
    m = re.fullmatch(r"(\d+) of (\d+)", text("position") or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def saves():
    return int(js("return document.getElementById('save-status').dataset.saves || '0';"))


def press(key):
    js("if (document.activeElement) document.activeElement.blur();")
    ActionChains(driver).send_keys(key).perform()


def wait_saved(before, what):
    wait(what + ": #save-status", "text starting with 'saved' after the server's answer",
         lambda: (saves(), text("save-status")), lambda g: g[0] > before and g[1].startswith("saved"))


def wait_shown(pair, what):
    exp = (str(pair), decisions.get(pair, "undecided"))
    wait(what + ": (#pair-id, #decision)", exp, lambda: (text("pair-id"), text("decision")), lambda g: g == exp)


def shown_pair():
    return int(text("pair-id"))


def decide(key, decision, next_pair, what):
    pair = shown_pair()
    before = saves()
    press(key)
    wait_saved(before, what)
    record([pair], decision)
    wait_shown(next_pair(pair), what + " then the next pair")
    check_progress(what)
    ok("%s: pair %d %s, saved, then pair %s shown" % (what, pair, decision, text("pair-id")))
    return pair


def apply_filter(cls_index, undecided):
    Select(driver.find_element(By.ID, "filter-class")).select_by_index(cls_index)
    box = driver.find_element(By.ID, "filter-undecided")
    if box.is_selected() != undecided:
        box.click()
    driver.find_element(By.ID, "apply-filter").click()
    cls = Select(driver.find_element(By.ID, "filter-class")).first_selected_option.get_attribute("value")
    q = {}
    if cls:
        q["class"] = cls
    if undecided:
        q["undecided"] = "1"
    query = urllib.parse.urlencode(q)
    wait("the filter applied: #position[data-query]", query,
         lambda: js("return document.getElementById('position').dataset.query;"), lambda g: g == query)
    return cls or None


def next_in(cls=None, undecided=False):
    """The pair the page moves to after p: the next one the filter keeps (p itself at the end)."""
    def nxt(p):
        return next((q for q in range(p + 1, N) if in_filter(q, cls, undecided)), p)
    return nxt


def check_images(what):
    def probe():
        return js("""return ['image-first', 'image-second'].map(id => {
            const e = document.getElementById(id), r = e.getBoundingClientRect();
            return [e.complete && e.naturalWidth > 0 && !e.classList.contains('loading'), Math.round(r.width),
                    e.naturalWidth, getComputedStyle(e).imageRendering]; });""")
    got = wait(what + ": both images loaded, each at least 320 px wide",
               "[loaded, width >= 320, ...] for both", probe, lambda g: all(x[0] and x[1] >= 320 for x in g))
    for g in got:
        if g[2] * 2 <= g[1] and g[3] != "pixelated":
            fail(what + ": image-rendering of an image shown at %d px from %d px" % (g[1], g[2]), "pixelated", g[3])
    ok("%s: both images loaded, shown %s px wide" % (what, [g[1] for g in got]))


def api_get(url, path, params):
    """Only where the candidates file has no labels: the filtered list as the server gives it."""
    base, token = url.split("/?token=")
    q = dict(params, token=token)
    with urllib.request.urlopen(base + "/" + path + "?" + urllib.parse.urlencode(q), timeout=30) as r:
        return json.load(r)


# ---------------------------------------------------------------- the test

driver = None


def run():
    global driver
    driver = start_browser()
    driver.set_page_load_timeout(60)

    # -- first server: the page at its start
    srv = Server()
    driver.get(srv.url)
    check_progress("first page")
    wait_shown(0, "first page")
    wait("first page: #position", "1 of %d" % N, position, lambda g: g == (1, N))
    check_images("first page")

    # -- keyboard: accept, reject, accept, skip, undo, previous, next
    plain = next_in()
    decide("a", "accept", plain, "key a")
    decide("r", "reject", plain, "key r")
    decide("a", "accept", plain, "key a")
    skipped = decide("s", "skip", plain, "key s")
    before = saves()
    press("u")
    wait_saved(before, "key u")
    record_undo()
    wait_shown(skipped, "key u shows the undone pair")
    check_progress("key u")
    ok("key u: the skip of pair %d undone, the pair shown again undecided" % skipped)
    press("p")
    wait_shown(skipped - 1, "key p")
    press("n")
    wait_shown(skipped, "key n")
    ok("keys p, n: pair %d (%s), then pair %d" % (skipped - 1, decisions.get(skipped - 1), skipped))

    # -- class filter with undecided only, then accept all of it
    if not js("return !document.getElementById('filter-class').disabled;"):
        fail("the class filter", "enabled (the synthetic data has labels)", "disabled")
    cls = apply_filter(1, True)
    pos = wait("class %s, undecided only: #position" % cls, "K of T", position, lambda g: g is not None)
    total = pos[1]
    if HAVE_LABELS:
        mine = [p for p in range(N) if in_filter(p, cls, True)]
        if total != len(mine):
            fail("class %s, undecided only: the filtered total" % cls, "%d (from the candidates file)" % len(mine),
                 total)
    else:
        print("note: the candidates file has no labels; the bulk's pairs are read from /api/pairs")
        mine = []
        while len(mine) < total:
            got = api_get(srv.url, "api/pairs", {"offset": len(mine), "limit": 1000, "class": cls, "undecided": 1})
            mine += [it["pair"] for it in got["items"]]
            if not got["items"]:
                break
    if total == 0:
        fail("class %s, undecided only" % cls, "some pairs to accept in bulk", "none")
    if shown_pair() not in mine:
        fail("class %s, undecided only: the pair shown" % cls, "one of the filtered pairs", shown_pair())
    ok("class %s, undecided only: %d pairs, position %d of %d" % (cls, total, pos[0], total))
    before = saves()
    driver.find_element(By.ID, "bulk-accept").click()

    def alert_text():
        try:
            return driver.switch_to.alert.text
        except NoAlertPresentException:
            return None
    question = wait("Accept all filtered: the confirmation", "a confirm dialog", alert_text, lambda g: g is not None)
    if not re.search(r"\b%d\b" % total, question):
        driver.switch_to.alert.dismiss()
        fail("Accept all filtered: the confirmation's text", "names %d (the filtered total)" % total, question)
    driver.switch_to.alert.accept()
    wait_saved(before, "Accept all filtered")
    record(mine, "accept")
    check_progress("Accept all filtered")
    wait("after the bulk: #position", "0 of 0 (nothing undecided left in class %s)" % cls, position,
         lambda g: g == (0, 0))
    ok("Accept all filtered: confirmation %r accepted, %d pairs saved" % (question, total))

    # -- reload: the same progress
    shown = text("progress")
    driver.refresh()
    wait("after a reload: #progress", shown, lambda: text("progress"), lambda g: g == shown)
    ok("reload: %s" % shown)

    # -- one decision, then the server killed with SIGKILL
    apply_filter(0, True)
    undecided = next_in(None, True)
    wait("undecided only: #decision", "undecided", lambda: text("decision"), lambda g: g == "undecided")
    last = decide("a", "accept", undecided, "undecided only, key a")
    shown = text("progress")
    srv.stop(signal.SIGKILL, 30)
    ok("server killed (SIGKILL) right after pair %d was shown as saved; progress was: %s" % (last, shown))

    # -- second server on the same journal: the same progress, resumed after the last decision
    srv = Server()
    driver.get(srv.url)
    wait("after the restart: #progress", shown, lambda: text("progress"), lambda g: g == shown)
    resume = last + 1 if last + 1 < N else last
    wait_shown(resume, "after the restart: resumed at the pair after pair %d" % last)
    check_images("after the restart")
    ok("restart: progress %s, resumed at pair %d" % (shown, resume))

    # -- two more decisions, then stop, then export
    decide("r", "reject", plain, "after the restart, key r")
    if args.screenshot:
        check_images("screenshot")
        driver.save_screenshot(args.screenshot)
        ok("screenshot: " + args.screenshot)
    decide("a", "accept", plain, "after the restart, key a")
    code = srv.stop(signal.SIGTERM, 30)
    if code is None:
        fail("the server after SIGTERM", "it exits within 30 s", "still running (killed)")
    ok("server stopped (SIGTERM), exit status %d" % code)

    p = subprocess.run([CURATE, "export", "--candidates", CANDIDATES, "--journal", JOURNAL, "--out", EXPORT],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        fail("curate export", "exit status 0", "%d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    with open(EXPORT, newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    table = list(csv.reader(lines))
    if not table or table[0] != ["first", "second"]:
        fail("the exported table's header", ["first", "second"], table[0] if table else "an empty file")
    got = collections.Counter(tuple(r) for r in table[1:] if r)
    accepted = collections.Counter((ROWS[p]["first"], ROWS[p]["second"]) for p, d in decisions.items()
                                   if d == "accept")
    # a pair the candidates file holds twice may be exported once or twice, nothing else may differ
    if got != accepted and not (set(got) == set(accepted) and max(got.values()) == 1):
        missing = sorted(set(accepted) - set(got))[:10]
        extra = sorted(set(got) - set(accepted))[:10]
        repeated = sorted(k for k, n in got.items() if n > accepted.get(k, 0) and k in accepted)[:10]
        fail("the exported pairs", "the %d pairs accepted by the test" % sum(accepted.values()),
             "%d rows; missing %s; not accepted %s; more often than accepted %s"
             % (sum(got.values()), missing, extra, repeated))
    ok("export: exactly the %d accepted pairs" % sum(accepted.values()))


def main():
    code = 0
    try:
        run()
    except Failure as e:
        print("FAILED: %s" % e)
        code = 1
    except Exception as e:   # a WebDriver error, a timeout of a process: a failure too, said as it came
        print("FAILED: %s: %s" % (type(e).__name__, e))
        code = 1
    if code and driver is not None:
        try:
            for entry in driver.get_log("browser")[-20:]:
                print("browser console: %s %s" % (entry.get("level"), entry.get("message")))
        except Exception:
            pass
    for s in servers:
        s.stop(signal.SIGKILL, 10)
        if code:
            print("---- %s (last 4000 characters)\n%s" % (s.log_path, s.output()))
    if driver is not None:
        driver.quit()
    print("PASSED" if code == 0 else "FAILED")
    sys.exit(code)


main()
