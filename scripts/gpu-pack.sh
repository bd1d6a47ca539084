#!/bin/sh
# Fills .gpu/ (ignored by git) with what a GPU machine that cannot install packages needs beyond
# its pip PyTorch, CMake, ninja and nvcc: Debian 12's range-v3, fmt, Boost.Test, CLI11,
# nlohmann-json, libjpeg-turbo and libpng packages (about 12 MB), for scripts/gpu-check.sh to
# unpack there. Run it as root on a Debian machine where apt works, in the repository.
#
#   scripts/gpu-pack.sh            # then copy the tree with .gpu/ to the GPU machine
set -eu
cd "$(dirname "$0")/.."
packages="librange-v3-dev libfmt-dev libfmt9 libboost-test1.74-dev libboost1.74-dev libboost-test1.74.0
          libcli11-dev nlohmann-json3-dev libturbojpeg0-dev libturbojpeg0 libjpeg62-turbo-dev libjpeg62-turbo libpng-dev libpng16-16"
mkdir -p .gpu
cd .gpu
missing=""
for p in $packages; do
  ls "${p}"_*.deb >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "gpu-pack: downloading$missing"
  apt-get download $missing >/dev/null 2>download.log || {
    apt-get update -qq && apt-get download $missing >/dev/null 2>download.log
  } || { cat download.log >&2; echo "gpu-pack: apt-get download failed" >&2; exit 1; }
fi
echo "gpu-pack: .gpu holds $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1); now run scripts/gpu-check.sh on the GPU machine"
