#!/bin/sh
# `make image`: qframe's container image without any registry (issue #16).
#  1. a Debian 12 root filesystem with python3 + python3-venv, made by debootstrap (as root)
#     once and cached as a tarball under $QFRAME_IMAGE_CACHE (keyed by the Debian release),
#     then `podman import`ed as localhost/debian-py:12;
#  2. qframe and its dependencies as wheels built here (pip wheel);
#  3. podman build --format docker (the HEALTHCHECK is kept only in Docker format).
# The built image is saved in the cache keyed by the content of the wheels and the
# Containerfile: a second build of the same wheels only loads it.
# Environment: PODMAN (the podman command, may carry --root/--runroot), IMAGE (the tag),
# PYTHON (the pip used to build wheels), IMAGE_CONTEXT, DEBIAN_MIRROR, QFRAME_IMAGE_CACHE.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PODMAN=${PODMAN:-podman}
PYTHON=${PYTHON:-python3}
IMAGE=${IMAGE:-localhost/qframe:latest}
RELEASE=bookworm
BASE=localhost/debian-py:12
CACHE=${QFRAME_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qframe-image}
if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
fi
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"

rootfs="$CACHE/rootfs-$RELEASE.tar"
if [ ! -s "$rootfs" ]; then
  tmp=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  echo "debootstrap $RELEASE from $DEBIAN_MIRROR (about 40 s)"
  debootstrap --variant=minbase --include=python3,python3-venv "$RELEASE" "$tmp/root" "$DEBIAN_MIRROR" >"$tmp/log" 2>&1 \
    || { tail -20 "$tmp/log" >&2; rm -rf "$tmp"; exit 1; }
  # what a container never reads: docs, man pages, translations, apt's downloads and lists
  rm -rf "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/usr/share/info" \
    "$tmp/root/usr/share/locale" "$tmp/root/var/cache/apt"/*.bin "$tmp/root/var/cache/apt/archives"/*.deb \
    "$tmp/root/var/lib/apt/lists"/*_Packages "$tmp/root/var/log"/*.log
  tar -C "$tmp/root" -cf "$rootfs.part" . && mv "$rootfs.part" "$rootfs"
  rm -rf "$tmp"
fi
$PODMAN image exists "$BASE" || $PODMAN import -q "$rootfs" "$BASE" >/dev/null

ctx=${IMAGE_CONTEXT:-build/image}  # the build context: wheels/
rm -rf "$ctx" && mkdir -p "$ctx/wheels"
"$PYTHON" -m pip wheel -q --disable-pip-version-check . -w "$ctx/wheels" 2>"$ctx/pip.log" \
  || { cat "$ctx/pip.log" >&2; exit 1; }
key=$( (cd "$ctx/wheels" && sha256sum *.whl; sha256sum <"$ROOT/deploy/Containerfile") | sha256sum | cut -c1-16)
saved="$CACHE/qframe-image-$key.tar"
if [ -s "$saved" ]; then
  $PODMAN load -q -i "$saved" >/dev/null
  $PODMAN tag "localhost/qframe-cache:$key" "$IMAGE"
  echo "$IMAGE: loaded from $saved"
else
  $PODMAN build -q --format docker -f deploy/Containerfile -t "$IMAGE" -t "localhost/qframe-cache:$key" "$ctx" >/dev/null
  rm -f "$CACHE"/qframe-image-*.tar
  $PODMAN save -q -o "$saved.part" "localhost/qframe-cache:$key" && mv "$saved.part" "$saved"
  echo "$IMAGE: built"
fi
$PODMAN image inspect --format '{{.Size}}' "$IMAGE" | awk -v i="$IMAGE" '{printf "%s: %.1f MB\n", i, $1/1e6}'
