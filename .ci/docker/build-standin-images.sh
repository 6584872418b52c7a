#!/usr/bin/env bash
# Builds offline stand-ins for python:3.10-slim and python:3.9-slim, for machines that cannot pull
# from an image registry (CI here). Each stand-in is a Debian bookworm minbase root filesystem
# (debootstrap; Debian's mirror is reachable where Docker Hub is not) plus this machine's own CPython
# build copied to /usr/local like in the official image, plus a wheelhouse of the service's pinned
# requirements at /wheels with PIP_NO_INDEX=1 / PIP_FIND_LINKS=/wheels baked in, so the services'
# unchanged Dockerfiles build with network "none".
#
#   bash .ci/docker/build-standin-images.sh        # as root; prints the two image names it built
#
# Idempotent: an image whose fingerprint label matches (this script, the interpreter, the
# requirements) is kept. The rootfs and wheelhouses are cached under $STANDIN_CACHE_DIR, never in
# the repository. Environment: STANDIN_CACHE_DIR (/var/cache/ci-python-standin), STANDIN_MIRROR
# (http://deb.debian.org/debian), PYENV_VERSIONS (/root/.pyenv/versions).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${STANDIN_CACHE_DIR:-/var/cache/ci-python-standin}
mirror=${STANDIN_MIRROR:-http://deb.debian.org/debian}
pyenv_versions=${PYENV_VERSIONS:-/root/.pyenv/versions}
# What the official slim image carries besides Python, and the libraries CPython's extension
# modules link against (checked with ldd on this machine's builds).
packages=ca-certificates,netbase,tzdata,libsqlite3-0,libssl3,libffi8,zlib1g,libbz2-1.0,liblzma5,libexpat1,libncursesw6,libreadline8,libuuid1

log() { printf '[standin] %s\n' "$*" >&2; }

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The debootstrap root filesystem, shared by both images and by later runs.
rootfs_base() {
  local base=$cache/rootfs-bookworm-minbase stamp
  stamp=$(printf '%s\n' "$mirror" "$packages" | sha256sum | cut -c1-16)
  if [ "$(cat "$base.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "debootstrap --variant=minbase bookworm from $mirror (about 30 s)"
    rm -rf "$base" "$base.partial"
    debootstrap --variant=minbase --include="$packages" bookworm "$base.partial" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
    rm -rf "$base.partial"/var/cache/apt/archives/*.deb "$base.partial"/var/lib/apt/lists/*
    mv "$base.partial" "$base"
    echo "$stamp" >"$base.stamp"
  fi
  echo "$base"
}

# build_image <python version X.Y> <requirements.txt> <image tag>
build_image() {
  local minor=$1 requirements=$2 tag=$3 interpreter version fingerprint wheels root
  interpreter=$(ls -d "$pyenv_versions/$minor".*/bin/python"$minor" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$interpreter" ] || { log "no Python $minor under $pyenv_versions"; exit 1; }
  local prefix=${interpreter%/bin/*}
  version=$("$interpreter" -c 'import platform; print(platform.python_version())')
  fingerprint=$(cat "${BASH_SOURCE[0]}" "$requirements" <(echo "$prefix $version") | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "ci.standin.fingerprint"}}' "$tag" 2>/dev/null)" = "$fingerprint" ]; then
    log "$tag is up to date (Python $version)"
    return
  fi

  wheels=$cache/wheels-$minor-$(sha256sum "$requirements" | cut -c1-16)
  if [ ! -d "$wheels" ]; then
    log "wheelhouse for Python $version: pip download -r ${requirements#"$repo"/}"
    rm -rf "$wheels.partial"
    "$interpreter" -m pip download -q --disable-pip-version-check --only-binary=:all: \
      -r "$requirements" -d "$wheels.partial"
    mv "$wheels.partial" "$wheels"
  fi

  root=$work/rootfs-$minor
  cp -a "$(rootfs_base)" "$root"

  log "installing Python $version from $prefix into /usr/local"
  # Leave out what the slim image leaves out too (test suite, static library, IDLE/tkinter) and
  # anything this machine added to its own site-packages beyond pip and setuptools.
  tar -C "$prefix" -cf - \
    --exclude="lib/python$minor/test" --exclude="lib/python$minor/idlelib" \
    --exclude="lib/python$minor/tkinter" --exclude="lib/python$minor/config-*" \
    --exclude='lib/libpython*.a' --exclude="lib/python$minor/site-packages/*.pth" \
    --exclude="lib/python$minor/site-packages/_sandbox*" \
    bin include lib share | tar -C "$root/usr/local" -xf -
  # Console scripts carry the build's absolute shebang; point them at the new location.
  grep -lsIE "^#!$prefix/bin/" "$root"/usr/local/bin/* | while read -r script; do
    sed -i "1s|^#!$prefix/bin/|#!/usr/local/bin/|" "$script"
  done
  ldconfig -r "$root"   # libpython lives in /usr/local/lib now, not in the build's RUNPATH
  cp -a "$wheels" "$root/wheels"
  chroot "$root" /usr/local/bin/python -c 'import ssl, sqlite3, ctypes, zlib, bz2, lzma, zoneinfo, sys; print(sys.version)' >/dev/null

  log "docker import $tag"
  tar -C "$root" --numeric-owner -cf - . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV PYTHON_VERSION=$version" \
    --change 'ENV PIP_NO_INDEX=1' \
    --change 'ENV PIP_FIND_LINKS=/wheels' \
    --change "LABEL ci.standin.fingerprint=$fingerprint" \
    --change 'CMD ["python3"]' \
    - "$tag" >/dev/null
  rm -rf "$root"
  # The image this one replaced, if nothing is built on it any more.
  docker image prune -f --filter label=ci.standin.fingerprint >/dev/null
}

build_image 3.10 "$repo/collector/requirements.txt" "${COLLECTOR_PYTHON_IMAGE:-ci-standin/python:3.10-slim}"
build_image 3.9 "$repo/ipam/requirements.txt" "${IPAM_PYTHON_IMAGE:-ci-standin/python:3.9-slim}"
echo "${COLLECTOR_PYTHON_IMAGE:-ci-standin/python:3.10-slim}"
echo "${IPAM_PYTHON_IMAGE:-ci-standin/python:3.9-slim}"
