#!/usr/bin/env python3
"""Starts the ranks of a distributed test the way torchrun does (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR=127.0.0.1 and a MASTER_PORT found free), and checks how they end.

  launch.py run PROGRAM MODE W      every rank of `PROGRAM MODE` exits 0
  launch.py kill PROGRAM W          rank 1 killed (SIGKILL) mid-run: the others exit non-zero,
                                    naming rank 1, within the timeout
  launch.py hang PROGRAM W          rank 1 stopped (SIGSTOP) mid-run: likewise
  launch.py rendezvous PROGRAM      rank 1 of 2 never starts: rank 0 fails within the timeout,
                                    naming the address, the port and rank 1
  launch.py environment PROGRAM     malformed or inconsistent variables are refused by name
  launch.py foreign PROGRAM         MASTER_PORT held by a program that accepts and never answers:
                                    rank 1 ends with an error naming the port, within the timeout
                                    and its grace, instead of hanging until that program exits
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

TIMEOUT_MS = 8000  # the timeout the failure tests give init_from_env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(rank, world, port, **extra):
    env = dict(os.environ)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE"):
        env.pop(k, None)
    env.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start(program, mode, ranks, world, port, **extra):
    return {r: subprocess.Popen([program, mode], env=environment(r, world, port, **extra), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for r in ranks}


failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def finish(procs, limit):
    out = {}
    deadline = time.monotonic() + limit
    for r, p in procs.items():
        try:
            o, e = p.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
            e += "\n<killed by launch.py: still running after %d s>" % limit
        out[r] = (p.returncode, o, e)
        sys.stdout.write("--- rank %d (exit %s)\n%s%s" % (r, p.returncode, o, e))
    return out


def run(program, mode, world):
    port = free_port()
    out = finish(start(program, mode, range(world), world, port), 300)
    for r, (code, _, _) in out.items():
        check(code == 0, "rank %d of %d: %s exits 0" % (r, world, mode))


def failure(program, world, how):
    port = free_port()
    procs = start(program, "stall", range(world), world, port, SELFSUP_TEST_TIMEOUT_MS=TIMEOUT_MS,
                  SELFSUP_TEST_NOTICE_MS=2000)
    # Wait until every rank has finished one collective.
    for r, p in procs.items():
        line = p.stdout.readline()
        check("ready" in line, "rank %d joined and ran a collective" % r)
    victim = procs.pop(1)
    os.kill(victim.pid, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
    stopped = time.monotonic()
    out = finish(procs, TIMEOUT_MS / 1000 + 30)
    took = time.monotonic() - stopped
    for r, (code, _, err) in out.items():
        check(code not in (0, None) and code > 0, "rank %d exits with an error status after rank 1 was %s (got %s)"
              % (r, "killed" if how == "kill" else "stopped", code))
        check("Missing rank 1" in err, "rank %d's message names the missing rank 1" % r)
        check("still waiting for the other ranks in" in err, "rank %d said, while it waited, what it waited for" % r)
    check(took < TIMEOUT_MS / 1000 + 15, "the survivors stopped %.1f s after rank 1 (timeout %.0f s)"
          % (took, TIMEOUT_MS / 1000))
    if how == "hang":
        os.kill(victim.pid, signal.SIGKILL)
    victim.wait()


def rendezvous(program):
    port = free_port()
    began = time.monotonic()
    out = finish(start(program, "init", [0], 2, port, SELFSUP_TEST_TIMEOUT_MS=3000, SELFSUP_TEST_NOTICE_MS=1000), 60)
    took = time.monotonic() - began
    code, _, err = out[0]
    check(code == 1, "rank 0 alone fails (exit %s)" % code)
    check("127.0.0.1:%d" % port in err and "never arrived: 1" in err,
          "the message names the address, the port and the missing rank 1")
    check(took < 30, "it gave up after %.1f s (timeout 3 s)" % took)
    check("still waiting for the rendezvous of 2 ranks at 127.0.0.1:%d" % port in err,
          "while it waited, it said what for")


def foreign(program):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])  # kept open, never answered
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    began = time.monotonic()
    out = finish(start(program, "init", [1], 2, port, SELFSUP_TEST_TIMEOUT_MS=3000, SELFSUP_TEST_NOTICE_MS=1000), 120)
    took = time.monotonic() - began
    server.close()
    code, _, err = out[1]
    check(code == 1, "rank 1 fails (exit %s)" % code)
    check("127.0.0.1:%d" % port in err, "the message names the address and the port")
    check(took < 60, "it gave up after %.1f s (timeout 3 s, grace 15 s)" % took)


def environment_errors(program):
    cases = [
        ({"RANK": "abc", "WORLD_SIZE": "2"}, "RANK must be an integer in [0, 1], got 'abc'"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK must be an integer in [0, 1], got '2'"),
        ({"RANK": "0", "WORLD_SIZE": "0"}, "WORLD_SIZE must be an integer in [1,"),
        ({"RANK": "0"}, "RANK and WORLD_SIZE must be set together"),
        ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_PORT": "29500"}, "MASTER_ADDR"),
        ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "http"},
         "MASTER_PORT must be an integer"),
        ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "-1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"},
         "LOCAL_RANK must be an integer"),
    ]
    for variables, expected in cases:
        env = dict(os.environ)
        for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            env.pop(k, None)
        env.update(variables)
        p = subprocess.run([program, "init"], env=env, capture_output=True, text=True, timeout=60)
        check(p.returncode == 1 and expected in p.stderr,
              "%s refused with '%s' (exit %s: %s)" % (variables, expected, p.returncode, p.stderr.strip()))
    env = dict(os.environ)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    p = subprocess.run([program, "init"], env=env, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "rank 0 of 1" in p.stdout, "without the variables: one process (%s)" % p.stdout.strip())
    # Two processes claiming one rank.
    port = free_port()
    procs = {0: subprocess.Popen([program, "init"], env=environment(0, 3, port, SELFSUP_TEST_TIMEOUT_MS=4000),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)}
    time.sleep(0.5)
    for k in (1, 2):
        procs[k] = subprocess.Popen([program, "init"], env=environment(1, 3, port, SELFSUP_TEST_TIMEOUT_MS=4000),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
    out = finish(procs, 60)
    check(any("RANK 1 is claimed by more than one process" in e for _, _, e in out.values()),
          "a second process with RANK 1 is refused")
    check(all(code != 0 for code, _, _ in out.values()), "no process of that run succeeds")


def main():
    what = sys.argv[1]
    if what == "run":
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif what in ("kill", "hang"):
        failure(sys.argv[2], int(sys.argv[3]), what)
    elif what == "rendezvous":
        rendezvous(sys.argv[2])
    elif what == "environment":
        environment_errors(sys.argv[2])
    elif what == "foreign":
        foreign(sys.argv[2])
    else:
        sys.exit("unknown command " + what)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
