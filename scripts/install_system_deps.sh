#!/usr/bin/env bash
# Debian packages, installed only when missing.
#   (no argument)  what the tests and benchmarks use: wrk (load generator), mosquitto (MQTT broker),
#                  systemd (systemd-analyze for the unit checks), curl, openssl (self-signed
#                  certificates for the TLS test, prlimit comes with util-linux), chromium (the web console's
#                  browser tests, driven by Playwright; never `playwright install`), nginx (the fleet test runs
#                  packaging/nginx/yolo-edge-fleet.conf from a temporary prefix; under systemd Debian also
#                  starts its default site on :80: `systemctl disable --now nginx` if unwanted), docker.io,
#                  debootstrap and docker-compose (the container image and its tests: the base image is made
#                  from the Debian mirror, no registry needed; dockerd is started when none answers), and
#                  python3-venv
#   --runtime      only what `make serve` needs: python3-venv
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin  # dockerd and debootstrap live there; a non-root PATH may lack it
need=()
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
if [ "${1:-}" != "--runtime" ]; then
  command -v wrk >/dev/null || need+=(wrk)
  command -v mosquitto >/dev/null || need+=(mosquitto)
  command -v systemd-analyze >/dev/null || need+=(systemd)
  command -v curl >/dev/null || need+=(curl)
  command -v openssl >/dev/null || need+=(openssl)
  command -v prlimit >/dev/null || need+=(util-linux)
  command -v chromium >/dev/null || need+=(chromium)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "${1:-}" != "--runtime" ]; then
  # A machine where dockerd cannot run (no privileges, no cgroups) still runs every other test: the
  # container tests skip, saying why.
  bash "$(dirname "$0")/ensure_dockerd.sh" || echo "dockerd cannot run here: tests/container will skip"
fi
