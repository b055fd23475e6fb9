#!/usr/bin/env bash
# Builds the Debian base image that the local Kafka and Postgres images start from,
# for machines that cannot pull from a container registry: debootstrap a minimal
# bookworm from the machine's own Debian mirror and import it into Docker.
set -euo pipefail
name=${BASE_IMAGE:-ultimate-ticket/debian:bookworm}
if docker image inspect "$name" >/dev/null 2>&1; then exit 0; fi
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE '^URIs: *http[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE '^deb +http[^ ]+' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
fi
mirror=${mirror:-http://deb.debian.org/debian}
log=${DEPS_LOG:-/dev/stderr}
command -v debootstrap >/dev/null || { apt-get update -q >>"$log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >>"$log" 2>&1; }
dir=$(mktemp -d /tmp/ut-rootfs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "    debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$dir" "$mirror" >/tmp/ut-debootstrap.log 2>&1 || { tail -20 /tmp/ut-debootstrap.log; exit 1; }
# The image's apt must reach the same mirror during docker build.
echo "deb $mirror bookworm main" > "$dir/etc/apt/sources.list"
rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
tar -C "$dir" -c . | docker import - "$name" >/dev/null
echo "    imported $name"
