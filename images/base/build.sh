#!/bin/sh
# Make the Debian base image that every recipe under images/ starts FROM, without pulling
# anything from a container registry: debootstrap a minimal root file system from a Debian
# package mirror and import it into the local Docker engine.
#
# usage: build.sh SUITE MIRROR SECURITY_MIRROR TAG
set -eu

suite=$1
mirror=$2
security_mirror=$3
tag=$4

rootfs=$(mktemp -d /var/tmp/stack-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/dev/null

# Keep security and point-release updates reachable for the images built on this base.
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES

# Images never need recommended packages, documentation or apt's package lists.
cat > "$rootfs/etc/apt/apt.conf.d/90-stack-image" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin

tar -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  - "$tag" >/dev/null
echo "$tag"
