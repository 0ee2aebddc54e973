#!/usr/bin/env bash
# Make sure a docker daemon answers: nothing when one does; else start it, with systemd when systemd runs
# this machine, or as a background process logging to /var/log/yolo-edge-dockerd.log (containers and CI
# runners without systemd). Safe to run again and again. Exit 1, saying why, when it cannot start.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin  # dockerd and debootstrap live there; a non-root PATH may lack it
docker info >/dev/null 2>&1 && exit 0
command -v dockerd >/dev/null || { echo "dockerd is not installed: bash scripts/install_system_deps.sh" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
log=/var/log/yolo-edge-dockerd.log
if [ -d /run/systemd/system ]; then
  $SUDO systemctl start docker
elif ! pgrep -x dockerd >/dev/null; then
  echo "starting dockerd (log: $log)"
  # setsid + nohup: the daemon outlives this script and the make or CI step that ran it
  $SUDO setsid nohup dockerd >"$log" 2>&1 < /dev/null &
  started=$!
fi
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  if [ -n "${started:-}" ] && ! kill -0 "$started" 2>/dev/null; then
    echo "dockerd exited at start; its log ($log) ends with:" >&2
    $SUDO tail -15 "$log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.5
done
echo "dockerd did not answer within 30 s (docker info: $(docker info 2>&1 | tail -1)); its log ($log) ends with:" >&2
$SUDO tail -15 "$log" >&2 2>/dev/null || true
exit 1
