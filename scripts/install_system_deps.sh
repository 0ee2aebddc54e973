#!/usr/bin/env bash
# Debian packages the tests and benchmarks use: wrk (load generator), mosquitto (MQTT broker),
# systemd (systemd-analyze for the unit checks). Installed only when missing.
set -euo pipefail
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v systemd-analyze >/dev/null || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
