#!/bin/sh
# Compiles selfsup against Debian 13's CUDA build of LibTorch 2.6 (CUDA 12.4's headers, NCCL
# 2.22, SELFSUP_WITH_NCCL on), and links what the unpacked libraries allow. Nothing runs: no GPU is
# needed. On the host it goes into a Debian 13 root of its own (scripts/debian13.sh, in
# $SELFSUP_DEBIAN13_CUDA_ROOT, default /var/cache/selfsup/debian13-cuda), since the CUDA LibTorch
# and the CPU one cannot be installed side by side.
#
#   scripts/cuda-build.sh                 # every target: tests, header checks, examples, benchmarks
#   scripts/cuda-build.sh --cuda-units    # only the units whose code differs with CUDA and NCCL
#   scripts/cuda-build.sh --prepare       # only the root and its packages (no compiler runs)
#
# Debian's libtorch-cuda-2.6 depends on nvidia-cudnn, an installer that downloads cuDNN from
# NVIDIA when it is installed, so it cannot be installed here: the packages that depend on it
# (libtorch-cuda-2.6, libtorch-cuda-dev) are fetched with apt-get download and unpacked with
# dpkg -x instead, and every other package (CUDA 12.4's toolkit and libraries, NCCL, the CUDA
# build of Gloo) is installed with apt. cuDNN itself is then missing: a program links, with
# libtorch_cuda.so's own references to cuDNN left for the machine that runs it, and the script
# names every program in that state. The build tree is build/cuda inside that root.
set -eu
say() { echo "cuda-build: $*"; }
die() { echo "cuda-build: $*" >&2; exit 1; }

targets=all
case "${1:-}" in
  "") ;;
  --cuda-units) targets=cuda-units ;;
  --prepare) targets=none ;;
  -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (expected --cuda-units, --prepare or nothing; --help says more)" ;;
esac

if [ "$(cut -d. -f1 /etc/debian_version 2>/dev/null)" != 13 ] || [ ! -d /selfsup ]; then
  here=$(cd "$(dirname "$0")" && pwd)
  export SELFSUP_DEBIAN13_ROOT="${SELFSUP_DEBIAN13_CUDA_ROOT:-/var/cache/selfsup/debian13-cuda}"
  exec "$here/debian13.sh" ./scripts/cuda-build.sh "$@"
fi

# ---- inside the Debian 13 root ----------------------------------------------------------------
cd /selfsup
build_packages="build-essential cmake ninja-build librange-v3-dev libfmt-dev libboost-test-dev libstb-dev
                libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libcli11-dev nlohmann-json3-dev python3 pkg-config libcpp-httplib-dev"
# nvcc (CMake's CUDA language, which LibTorch's CMake package enables) with the host compiler it
# supports (CUDA 12.4: GCC 13 at most), NCCL, and Gloo and tensorpipe built for CUDA.
cuda_packages="nvidia-cuda-toolkit g++-13 libnccl-dev libgloo-cuda-dev libtensorpipe-cuda-0 python3-dev libprotobuf-dev"
unpacked="libtorch-cuda-2.6 libtorch-cuda-dev"
# What libtorch-cuda-2.6 needs to load and link, but for nvidia-cudnn (named ones, not virtual).
runtime=$(apt-cache depends --no-recommends --no-suggests libtorch-cuda-2.6 2>/dev/null |
          sed -n 's/^ *|\{0,1\}Depends: \([^<][^ ]*\)$/\1/p' | grep -vx nvidia-cudnn | sort -u | tr '\n' ' ')
if [ -z "$runtime" ]; then
  apt-get update -qq
  runtime=$(apt-cache depends --no-recommends --no-suggests libtorch-cuda-2.6 |
            sed -n 's/^ *|\{0,1\}Depends: \([^<][^ ]*\)$/\1/p' | grep -vx nvidia-cudnn | sort -u | tr '\n' ' ')
fi
[ -n "$runtime" ] || die "apt-cache knows no libtorch-cuda-2.6 (is contrib in /etc/apt/sources.list?)"

missing=""
for p in $build_packages $cuda_packages $runtime; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/var/log/selfsup-cuda-apt.log 2>&1 ||
    { tail -30 /var/log/selfsup-cuda-apt.log >&2; die "apt-get install failed (log: /var/log/selfsup-cuda-apt.log in the root)"; }
  apt-get clean  # the downloaded archives: several GB that the root keeps no use for
fi

stamp=/var/lib/selfsup-cuda-unpacked
if [ "$(cat "$stamp" 2>/dev/null)" != "$unpacked" ] || [ ! -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake ]; then
  cache=/var/cache/selfsup-cuda
  rm -rf "$cache"
  mkdir -p "$cache"
  say "fetching and unpacking $unpacked (dpkg -x: they depend on nvidia-cudnn)"
  (cd "$cache" && apt-get download $unpacked >/dev/null 2>"$cache/download.log") ||
    { cat "$cache/download.log" >&2; die "apt-get download failed"; }
  for deb in "$cache"/*.deb; do dpkg -x "$deb" /; done
  echo "$unpacked" >"$stamp"
fi

nvcc=$(command -v nvcc) || die "nvcc is missing after installing nvidia-cuda-toolkit"
[ "$targets" != none ] || { say "the root is ready"; exit 0; }
say "$("$nvcc" --version | tail -1); $(g++ --version | head -1); host compiler for nvcc: g++-13"

build=build/cuda
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSELFSUP_WITH_NCCL=ON \
      -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_HOST_COMPILER=g++-13 -DCMAKE_CUDA_ARCHITECTURES=90 \
      "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined" \
      >"$build.configure.log" 2>&1 || { tail -40 "$build.configure.log" >&2; die "configuring failed (log: build/cuda.configure.log)"; }
grep -E "^-- selfsup: LibTorch" "$build.configure.log" | sed 's/^-- /cuda-build: /'
grep -q "CUDA ON; NCCL ON" "$build.configure.log" || die "CMake did not find a CUDA LibTorch with NCCL (build/cuda.configure.log)"

if [ "$targets" = cuda-units ]; then
  set -- selfsup_cuda_units
else
  set -- all benchmarks
fi
say "building $* in build/cuda"
cmake --build "$build" --target "$@" || die "the build failed"

# --allow-shlib-undefined: libtorch_cuda.so's own references into the absent cuDNN wait for the
# machine that runs the program; selfsup's references must all resolve here, as ever.
# Every program: linked, and which of its libraries this machine cannot provide.
status=0
for exe in $(find "$build" -type f -perm -u+x \( -path '*/tests/*' -o -path '*/examples/*' -o -path '*/benchmarks/*' \) \
             ! -name '*.so' ! -name '*.py' ! -name '*.sh' ! -path '*/CMakeFiles/*' ! -path '*consumer*' | sort); do
  absent=$(ldd "$exe" 2>/dev/null | sed -n 's/^[[:space:]]*\([^ ]*\) => not found$/\1/p' | sort -u | tr '\n' ' ')
  case "$absent" in
    "") say "linked ${exe#"$build"/}" ;;
    "libcudnn.so.9 "|"libcuda.so.1 "|"libcuda.so.1 libcudnn.so.9 ") say "linked ${exe#"$build"/}; needs at run time: $absent(GPU-only, not in Debian's archive)" ;;
    *) say "linked ${exe#"$build"/}, but these libraries are missing: $absent"; status=1 ;;
  esac
done
exit "$status"
