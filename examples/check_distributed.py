#!/usr/bin/env python3
"""train under Debian's torchrun (--nproc_per_node=2 --no_python), on Gloo (where torchrun cannot
start, as on Debian 13, with the ranks started here from the variables torchrun would set):

  check_distributed.py TRAIN TORCHRUN WORK_DIR

- a 2-process run for 2 epochs with a checkpoint and a JSON: one JSON (world_size 2,
  global_batch_size 2·B), one checkpoint, no file of another rank, every rank with bit-identical
  parameters (train compares their checksums at the end and at every checkpoint);
- the run resumed under torchrun for a 3rd epoch: it continues at the step the checkpoint holds,
  and ends with the same loss as an uninterrupted 3-epoch run of 2 processes (each rank restored
  its own random streams);
- the 2-process checkpoint resumed by a single process is refused, saying why;
- ranks started with another --seed, --batch-size or --method are refused on every rank, naming
  the difference, before any collective whose size would differ.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys

train, torchrun, work = (os.path.abspath(a) for a in sys.argv[1:4])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --warmup-epochs 2: the first run's 10 steps are all warm-up, so the learning rates of the run
# resumed with more epochs (whose cosine spans 15 steps) equal the uninterrupted 3-epoch run's.
COMMON = ["--method", "simclr", "--per-class", "16", "--batch-size", "16", "--log-every", "1", "--backbone",
          "small_cnn", "--width", "8", "--seed", "3", "--warmup-epochs", "2"]


def torchrun_can_start():
    """PyTorch 2.4 on makes torchrun's own store with libuv, whatever USE_LIBUV says, and a PyTorch
    built without libuv (Debian 13's 2.6) then cannot start torchrun at all; 1.13 has no libuv."""
    probe = ("import torch.distributed as d\n"
             "try:\n    d.TCPStore('127.0.0.1', 0, is_master=True, use_libuv=True)\n"
             "except TypeError:\n    pass\n")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return not (p.returncode != 0 and "libuv" in p.stderr)


TORCHRUN = torchrun_can_start()
LAUNCHER = "torchrun" if TORCHRUN else "the variables torchrun sets"
if not TORCHRUN:
    print("this PyTorch has no libuv, so its torchrun cannot start: the ranks are started here with "
          "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT, as mpirun or srun would")


class Finished:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(args, ranks=2):
    env = dict(os.environ)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    env["OMP_NUM_THREADS"] = "1"
    if ranks > 1 and not TORCHRUN:
        port = free_port()
        cmd = [train] + COMMON + args
        procs = []
        for rank in range(ranks):
            e = dict(env, RANK=str(rank), WORLD_SIZE=str(ranks), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                     MASTER_PORT=str(port))
            procs.append(subprocess.Popen(cmd, cwd=work, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        outputs = [p.communicate(timeout=600) for p in procs]
        print("$ RANK=0..%d " % (ranks - 1) + " ".join(cmd) + "\n" + "".join(o + e for o, e in outputs))
        return Finished(max(abs(p.returncode) for p in procs), "".join(o for o, _ in outputs),
                        "".join(e for _, e in outputs))
    # --redirects 1 --tee 1: Debian 12's torchrun (PyTorch 1.13 on Python 3.11) cannot parse its own
    # default "0" for these (Python 3.11 no longer lists a flag enum's zero member); this pair keeps
    # both streams on the console.
    cmd = ([torchrun, "--nproc_per_node=%d" % ranks, "--redirects", "1", "--tee", "1", "--master_addr=127.0.0.1",
            "--master_port=%d" % free_port(), "--no_python", train] if ranks > 1 else [train]) + COMMON + args
    p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    print("$ " + " ".join(cmd) + "\n" + p.stdout + p.stderr)
    return p


first = run(["--epochs", "2", "--checkpoint", "run.ckpt", "--json", "run.json"])
check(first.returncode == 0, "2 processes under %s: exit 0" % LAUNCHER)
check(len(re.findall(r"all 2 ranks hold bit-identical parameters", first.stdout)) == 1,
      "rank 0 reports that the 2 ranks hold bit-identical parameters")
check(first.stdout.count("SimCLR (") == 1 and "2 processes (gloo, global batch 32)" in first.stdout, "one rank prints the run's header")
names = sorted(os.listdir(work))
check(names == ["run.ckpt", "run.json"], "one checkpoint and one JSON, nothing else: %s" % names)
j = json.load(open(os.path.join(work, "run.json")))
check(j.get("world_size") == 2 and j.get("global_batch_size") == 32, "JSON world_size 2, global_batch_size 32")
# 160 images (10 classes x 16), 80 per rank, 16 a batch: 5 steps an epoch.
check(j.get("steps") == 10, "2 epochs of 5 global steps: %s" % j.get("steps"))

resumed = run(["--epochs", "3", "--checkpoint", "run.ckpt", "--resume", "--allow-change", "epochs", "--json",
               "resumed.json"])
check(resumed.returncode == 0, "the resumed run under %s: exit 0" % LAUNCHER)
check("resumed from run.ckpt at step 10" in resumed.stdout, "it continues at step 10")
r = json.load(open(os.path.join(work, "resumed.json")))
check(r.get("resumed_from_step") == 10, "JSON resumed_from_step 10")

straight = run(["--epochs", "3", "--json", "straight.json"])
check(straight.returncode == 0, "an uninterrupted 3-epoch run of 2 processes: exit 0")
s = json.load(open(os.path.join(work, "straight.json")))
check(s.get("final_loss") is not None and r.get("final_loss") == s.get("final_loss"),
      "the resumed run ends with the uninterrupted run's loss: %s and %s" % (r.get("final_loss"), s.get("final_loss")))
check(r.get("knn_top1") == s.get("knn_top1"), "and its kNN accuracy: %s and %s" % (r.get("knn_top1"), s.get("knn_top1")))

alone = run(["--epochs", "3", "--checkpoint", "run.ckpt", "--resume", "--allow-change", "epochs"], ranks=1)
check(alone.returncode != 0 and "written by a run on 2 processes, and this run has 1" in alone.stderr,
      "a single process refuses the 2-process checkpoint")



def run_unlike(flag, values):
    """2 ranks started with the variables torchrun sets, rank r with `flag values[r]`."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    port = free_port()
    procs = []
    for rank, value in enumerate(values):
        args = list(COMMON)
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
        e = dict(env, RANK=str(rank), WORLD_SIZE=str(len(values)), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                 MASTER_PORT=str(port))
        procs.append(subprocess.Popen([train] + args + ["--epochs", "1"], cwd=work, env=e, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in procs]
    print("$ ranks with %s %s\n" % (flag, " and ".join(values)) + "".join(o + e for o, e in outputs))
    return [p.returncode for p in procs], [e for _, e in outputs]


# Ranks that disagree are refused by name on every rank, before a collective of unequal size.
for flag, values, expected in (("--seed", ["3", "4"], "seed 4 (rank 0: 3)"),
                               ("--batch-size", ["16", "8"], "batch_size 8 (rank 0: 16)"),
                               ("--method", ["simclr", "byol"], "run.method byol (rank 0: simclr)")):
    codes, errors = run_unlike(flag, values)
    check(all(c == 1 for c in codes), "ranks with %s %s exit 1 (not a signal): %s" % (flag, " and ".join(values), codes))
    check(all("do not run alike" in e and expected in e for e in errors),
          "every rank names the difference: %s" % expected)

if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
