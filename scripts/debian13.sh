#!/bin/sh
# Runs a command inside a Debian 13 (trixie) root: LibTorch 2.6, GCC 14, python3-torch 2.6 and
# torchvision 0.21, from Debian's own packages. The repository is mounted at /selfsup inside, and
# its build/ folder is replaced there by one that belongs to the root, so the two platforms never
# share a build tree. Default command: the README's second one (set up, build, run every test).
#
#   scripts/debian13.sh                       # every test on Debian 13
#   scripts/debian13.sh sh -c 'ctest --preset release -R interop'
#
# The root is made with mmdebstrap (installed on the host when missing) and cached in
# $SELFSUP_DEBIAN13_ROOT (default /var/cache/selfsup/debian13). It is made again when missing,
# when it is older than $SELFSUP_DEBIAN13_MAX_AGE_DAYS days (default 14: Debian's point releases
# and security updates) or when this script's recipe for it changed. Run as root on Linux; the
# mounts live in a private mount namespace and vanish with the command.
set -eu
case "${1:-}" in -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
say() { echo "debian13: $*"; }
die() { echo "debian13: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${SELFSUP_DEBIAN13_ROOT:-/var/cache/selfsup/debian13}
max_age=${SELFSUP_DEBIAN13_MAX_AGE_DAYS:-14}
mirror=${SELFSUP_DEBIAN13_MIRROR:-http://deb.debian.org/debian}
# Everything the root is made from; a change makes a new root.
recipe="mmdebstrap --variant=apt --components=main,contrib,non-free trixie TARGET $mirror"

[ "$(id -u)" = 0 ] || die "must run as root (it makes a chroot and mounts /proc, /dev and /sys in it)"
case "$max_age" in ''|*[!0-9]*) die "SELFSUP_DEBIAN13_MAX_AGE_DAYS must be a whole number of days, got '$max_age'" ;; esac
case "$root" in /*) ;; *) die "SELFSUP_DEBIAN13_ROOT must be an absolute path, got '$root'" ;; esac
[ "$root" != / ] || die "SELFSUP_DEBIAN13_ROOT must not be /"

stamp="$root/etc/selfsup-root"
stale=""
if [ ! -x "$root/usr/bin/apt-get" ] || [ ! -f "$stamp" ]; then
  stale="there is none at $root"
elif [ "$(sed -n 's/^recipe=//p' "$stamp")" != "$recipe" ]; then
  stale="its recipe changed"
elif [ -n "$(find "$stamp" -mtime +"$max_age")" ]; then
  stale="it is older than $max_age days"
fi

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9 || die "cannot lock $root.lock"

if [ -n "$stale" ]; then
  say "making a Debian 13 root ($stale); about a minute, then the packages the project needs"
  command -v mmdebstrap >/dev/null 2>&1 || {
    say "installing mmdebstrap on the host"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  }
  rm -rf "$root.new"
  # shellcheck disable=SC2086
  $(echo "$recipe" | sed "s|TARGET|$root.new|") >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; die "mmdebstrap failed (its log: $root.log)"; }
  printf 'recipe=%s\nmade=%s\n' "$recipe" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$root.new/etc/selfsup-root"
  rm -rf "$root"
  mv "$root.new" "$root"
else
  say "reusing the Debian 13 root at $root ($(sed -n 's/^made=/made /p' "$stamp"))"
fi

cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$root/selfsup" "$root/var/lib/selfsup-build" "$repo/build"
# The handwritten digits of scripts/fetch-mnist.sh, when this machine has them, at the path the
# tests read inside the root too (read-only).
digits=${SELFSUP_MNIST_DIR:-/var/cache/selfsup/mnist}
[ -d "$digits" ] || digits=""
[ -z "$digits" ] || mkdir -p "$root/var/cache/selfsup/mnist"

if [ $# -eq 0 ]; then
  set -- sh -c './scripts/setup-debian.sh && cmake --preset release && cmake --build --preset release && ctest --preset release'
fi
say "running in Debian 13 ($(cat "$root/etc/debian_version")) at /selfsup: $*"
# A private mount namespace: the mounts go away with the command, however it ends.
exec unshare --mount --propagation private -- sh -eu -c '
  root=$1 repo=$2 digits=$3; shift 3
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --rbind /sys "$root/sys"
  mount --bind "$repo" "$root/selfsup"
  mount --bind "$root/var/lib/selfsup-build" "$root/selfsup/build"
  if [ -n "$digits" ]; then
    mount --bind "$digits" "$root/var/cache/selfsup/mnist"
    mount -o remount,bind,ro "$root/var/cache/selfsup/mnist"
  fi
  exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c "cd /selfsup && exec \"\$@\"" sh "$@"
' sh "$root" "$repo" "$digits" "$@"
