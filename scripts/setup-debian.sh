#!/bin/sh
# Installs what selfsup needs on Debian 12, as root; does nothing for packages already there.
set -eu
packages="build-essential cmake ninja-build libtorch-dev libopenblas0-pthread librange-v3-dev
          libfmt-dev libboost-test-dev libstb-dev"
packages="$packages libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libcli11-dev nlohmann-json3-dev"
# Gloo's headers, for c10d's ProcessGroupGloo (selfsup/distributed/init.hpp, multi-process runs).
packages="$packages libgloo-dev"
# curate's review server (cpp-httplib), and the browser that tests its page (Debian's Chromium,
# its driver and Selenium's Python bindings).
packages="$packages pkg-config libcpp-httplib-dev chromium chromium-driver python3-selenium"
# The tests' side of PyTorch: weights saved and loaded by Python's torch and torchvision.
packages="$packages python3-torch python3-torchvision"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup-debian: installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
