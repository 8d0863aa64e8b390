#!/bin/sh
# `make image`: qframe's container image without any registry (issue #16).
#  1. qframe and its dependencies as wheels built here (pip wheel, with fixed file dates so the
#     same sources give the same wheels), their native libraries stripped of debug info
#     (deploy/strip-wheels.py);
#  2. a Debian 12 root filesystem with python3 + python3-venv, made by debootstrap (as root)
#     once and cached as a tarball under $QFRAME_IMAGE_CACHE (keyed by the Debian release),
#     then `podman import`ed as localhost/debian-py:12;
#  3. podman build --format docker (the HEALTHCHECK is kept only in Docker format): a build
#     stage installs the wheels and removes what qframe never uses (deploy/slim.sh), the
#     image is what is left, in one layer.
# The built image is saved in the cache keyed by the content of the wheels, the Containerfile
# and slim.sh (also tagged localhost/qframe-cache:<key>): a second build of the same sources only
# loads it (the last 3 are kept: worktrees with other sources share the cache).
# `build-image.sh --key` makes the wheels and prints the key, nothing else.
# Environment: PODMAN (the podman command, may carry --root/--runroot), IMAGE (the tag),
# PYTHON (the pip used to build wheels), IMAGE_CONTEXT, DEBIAN_MIRROR, QFRAME_IMAGE_CACHE.
# Exit status 3: debootstrap failed (no Debian mirror answered).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PODMAN=${PODMAN:-podman}
PYTHON=${PYTHON:-python3}
IMAGE=${IMAGE:-localhost/qframe:latest}
RELEASE=bookworm
BASE=localhost/debian-py:12
CACHE=${QFRAME_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qframe-image}
mkdir -p "$CACHE"

# 1. the build context: wheels/, slim.sh
ctx=${IMAGE_CONTEXT:-build/image}
rm -rf "$ctx" && mkdir -p "$ctx/wheels"
SOURCE_DATE_EPOCH=315532800 \
  "$PYTHON" -m pip wheel -q --disable-pip-version-check . -w "$ctx/wheels" 2>"$ctx/pip.log" \
  || { cat "$ctx/pip.log" >&2; exit 1; }
"$PYTHON" deploy/strip-wheels.py "$ctx"/wheels/*.whl >/dev/null
cp deploy/slim.sh "$ctx/slim.sh"
key=$( (cd "$ctx/wheels" && sha256sum ./*.whl; cat "$ROOT/deploy/Containerfile" "$ROOT/deploy/slim.sh" | sha256sum) | sha256sum | cut -c1-16)
if [ "${1:-}" = "--key" ]; then
  echo "$key"
  exit 0
fi
saved="$CACHE/qframe-image-$key.tar"

# another worktree's build may remove a saved image between the test and the load: build then
if [ -s "$saved" ] && $PODMAN load -q -i "$saved" >/dev/null 2>&1; then
  $PODMAN tag "localhost/qframe-cache:$key" "$IMAGE"
  echo "$IMAGE: loaded from $saved"
else
  # 2. the base
  rootfs="$CACHE/rootfs-$RELEASE.tar"
  if [ ! -s "$rootfs" ]; then
    if [ -z "${DEBIAN_MIRROR:-}" ]; then
      DEBIAN_MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    fi
    DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    tmp=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    echo "debootstrap $RELEASE from $DEBIAN_MIRROR (about 40 s)"
    debootstrap --variant=minbase --include=python3,python3-venv "$RELEASE" "$tmp/root" "$DEBIAN_MIRROR" >"$tmp/log" 2>&1 \
      || { tail -20 "$tmp/log" >&2; rm -rf "$tmp"; exit 3; }
    # what a container never reads: docs, man pages, translations, apt's downloads and lists
    rm -rf "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/usr/share/info" \
      "$tmp/root/usr/share/locale" "$tmp/root/var/cache/apt"/*.bin "$tmp/root/var/cache/apt/archives"/*.deb \
      "$tmp/root/var/lib/apt/lists"/*_Packages "$tmp/root/var/log"/*.log
    tar -C "$tmp/root" -cf "$tmp/rootfs.tar" . && mv "$tmp/rootfs.tar" "$rootfs"
    rm -rf "$tmp"
  fi
  $PODMAN image exists "$BASE" || $PODMAN import -q "$rootfs" "$BASE" >/dev/null

  # 3. the image (--layers=false: the build stage is not kept as cache images)
  t0=$(date +%s)
  $PODMAN build -q --layers=false --format docker -f deploy/Containerfile \
    -t "$IMAGE" -t "localhost/qframe-cache:$key" "$ctx" >/dev/null
  $PODMAN save -q -o "$saved.$$.part" "localhost/qframe-cache:$key" && mv "$saved.$$.part" "$saved"
  ls -t "$CACHE"/qframe-image-*.tar | tail -n +4 | xargs -r rm -f
  echo "$IMAGE: built in $(($(date +%s) - t0)) s"
fi
$PODMAN image inspect --format '{{.Size}}' "$IMAGE" | awk -v i="$IMAGE" '{printf "%s: %.1f MB\n", i, $1/1e6}'
