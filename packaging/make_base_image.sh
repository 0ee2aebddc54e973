#!/usr/bin/env bash
# The image's base, made here instead of pulled: Debian 12 (bookworm) from the Debian mirror with
# debootstrap, imported into the local docker as yolo-edge-base:bookworm. A machine without access to
# an image registry (Docker Hub) can still build the image; the base is what `FROM debian:bookworm-slim`
# would give (minbase: apt, dpkg, bash, coreutils), with the security and updates suites enabled.
#   packaging/make_base_image.sh [--force]     (root or sudo; needs debootstrap and a running dockerd)
#   BASE_TAG, DEBIAN_MIRROR, DEBIAN_SUITE override the defaults below.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin  # dockerd and debootstrap live there; a non-root PATH may lack it
BASE_TAG=${BASE_TAG:-yolo-edge-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

if [ "${1:-}" != "--force" ] && docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  echo "$BASE_TAG exists (--force to remake it)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: bash scripts/install_system_deps.sh" >&2; exit 1; }

root=$(mktemp -d /var/tmp/yolo-edge-base.XXXXXX)
# --one-file-system: never into a /proc or /sys that a failed debootstrap left mounted
trap '$SUDO umount -R "$root/proc" "$root/sys" 2>/dev/null || true; $SUDO rm -rf --one-file-system "$root"' EXIT
echo "debootstrap $SUITE from $MIRROR into $root (about a minute)"
$SUDO debootstrap --variant=minbase --components=main "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; echo "debootstrap failed (log: $root.log)" >&2; exit 1; }
rm -f "$root.log"

# The sources a Debian image carries: the release, its updates and its security fixes (deb822 form,
# as debian:bookworm-slim has it).
$SUDO rm -f "$root/etc/apt/sources.list"
$SUDO tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# What the official image does to stay small: no apt caches, no man pages or docs on later installs.
$SUDO tee "$root/etc/dpkg/dpkg.cfg.d/docker-slim" >/dev/null <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
$SUDO tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Install-Recommends "false";
APT
$SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/log/*.log

$SUDO tar --numeric-owner -C "$root" -c . | docker import \
  --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' \
  --message "debootstrap --variant=minbase $SUITE $MIRROR" - "$BASE_TAG" >/dev/null
echo "made $BASE_TAG: $(docker image inspect -f '{{.Size}}' "$BASE_TAG" | awk '{printf "%.0f MB", $1/1e6}')"
