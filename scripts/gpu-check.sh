#!/bin/bash
# The GPU check: on a machine with an NVIDIA GPU, a pip PyTorch 2.x with CUDA, nvcc, CMake and
# ninja (and nothing that can be installed), it builds selfsup against that PyTorch's LibTorch
# (torch.utils.cmake_prefix_path) with NCCL, runs the tests that need CUDA (ctest's label cuda:
# placement, views and losses against the CPU, NCCL at world size 1, a bf16 autocast step, a
# checkpoint saved on the GPU and resumed), then bench_train_step for ResNet-18, ResNet-50 and
# ViT-S/16 at 224 px, and writes one JSON summary. The other dependencies come from .gpu/, which
# scripts/gpu-pack.sh fills on a Debian machine beforehand.
#
#   scripts/gpu-check.sh [--json PATH]     # default PATH: $OUT/gpu-check.json, else gpu-check.json
#
# Without a GPU it refuses in one line. Logs go beside the JSON (gpu-check.*.log).
set -u
say() { echo "gpu-check: $*"; }
json=""
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json=${2:?gpu-check: --json needs a path}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (--json PATH, --help)" >&2; exit 2 ;;
  esac
done
[ -n "$json" ] || json="${OUT:-.}/gpu-check.json"
repo=$(cd "$(dirname "$0")/.." && pwd)
logs=$(dirname "$json")
mkdir -p "$logs" || { echo "gpu-check: cannot make the folder of --json $json" >&2; exit 2; }

python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null ||
  { echo "gpu-check: no CUDA GPU here (python3's torch is missing or sees no device); run it on a GPU machine" >&2; exit 2; }
ls "$repo"/.gpu/*.deb >/dev/null 2>&1 ||
  { echo "gpu-check: .gpu/ holds no packages: run scripts/gpu-pack.sh on a Debian machine first and bring .gpu/ along" >&2; exit 2; }

start=$(date +%s)
work=/tmp/selfsup-gpu
deps=$work/deps
build=$work/build
mkdir -p "$deps"
for deb in "$repo"/.gpu/*.deb; do dpkg -x "$deb" "$deps"; done
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
say "$(python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "on", torch.cuda.get_device_name(0))')"
say "$(nvcc --version | tail -1); $(cmake --version | head -1); $(g++ --version | head -1)"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSELFSUP_WITH_NCCL=ON \
      -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr;$deps/usr/lib/x86_64-linux-gnu/cmake" \
      -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" \
      -DBoost_DIR="$deps/usr/lib/x86_64-linux-gnu/cmake/Boost-1.74.0" \
      -DSELFSUP_COMPILE_JOBS="$(nproc)" >"$logs/gpu-check.configure.log" 2>&1
configured=$?
built=1
if [ $configured -eq 0 ]; then
  say "building selfsup_cuda_tests and bench_train_step"
  cmake --build "$build" --target selfsup_cuda_tests bench_train_step >"$logs/gpu-check.build.log" 2>&1
  built=$?
fi
tests=1
if [ $built -eq 0 ]; then
  say "running the tests labelled cuda"
  (cd "$build" && SELFSUP_REQUIRE_CUDA=1 ctest -L cuda --output-on-failure) >"$logs/gpu-check.tests.log" 2>&1
  tests=$?
  # Each case's result, for the summary.
  SELFSUP_REQUIRE_CUDA=1 "$build/tests/selfsup_cuda_tests" --run_test=cuda_tests --report_level=detailed \
    >"$logs/gpu-check.cases.log" 2>&1
  for model in resnet18 resnet50 vit_small; do
    say "bench_train_step --model $model at 224 px"
    extra="--patch 16 --local-crops 0"
    [ "$model" = vit_small ] || extra="--channels-last"
    "$build/benchmarks/bench_train_step" --device cuda --model "$model" --size 224 --batch 128 --steps 10 --bf16 \
      $extra --no-peer >"$logs/gpu-check.bench-$model.log" 2>&1 || say "bench_train_step --model $model failed"
  done
fi
python3 - "$json" "$logs" "$configured" "$built" "$tests" "$start" <<'PY'
import json, os, re, sys, time
import torch
path, logs, configured, built, tests, start = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6]), int(sys.argv[6])
def read(name):
    try:
        with open(os.path.join(logs, name)) as f:
            return f.read()
    except OSError:
        return ""
cases = {}
for m in re.finditer(r'Test case "cuda_tests/(\w+)" (has passed|has failed|was skipped|did not run)', read("gpu-check.cases.log")):
    cases[m.group(1)] = m.group(2).split()[-1]
bench = {}
for model in ("resnet18", "resnet50", "vit_small"):
    m = re.search(r'Trainer::step\s+([\d.]+) ms\s+([\d.]+) training images per second', read(f"gpu-check.bench-{model}.log"))
    bench[model] = {"step_ms": float(m.group(1)), "images_per_second": float(m.group(2)), "size": 224,
                    "batch": 128, "bf16": True} if m else None
summary = {
    "torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0),
    "configured": configured == 0, "built": built == 0, "tests_passed": tests == 0 and built == 0,
    "cases": cases, "bench_train_step": bench, "seconds": round(time.time() - start, 1),
}
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(summary, f, indent=2)
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, path)
print(json.dumps(summary, indent=2))
PY
[ $configured -eq 0 ] || { tail -30 "$logs/gpu-check.configure.log"; say "configuring failed"; exit 1; }
[ $built -eq 0 ] || { grep -E "error|Error" "$logs/gpu-check.build.log" | head -30; say "the build failed"; exit 1; }
[ $tests -eq 0 ] || { tail -40 "$logs/gpu-check.tests.log"; say "tests failed"; exit 1; }
say "done in $(( $(date +%s) - start )) s; summary in $json"
