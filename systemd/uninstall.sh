#!/usr/bin/env bash
# Remove the yolo-edge service. Keeps config, API keys and the model repository unless --purge.
#
#   sudo /opt/yolo-edge/uninstall.sh            # or systemd/uninstall.sh from the source tree
#   systemd/uninstall.sh --root /tmp/img [--purge]
#
# Always removed: the unit, the sysusers entry file, /opt/yolo-edge (venv) and /var/cache/yolo-edge
# (the OpenVINO compile cache: rebuilt on demand). Kept unless --purge: /etc/yolo-edge (config.yaml,
# api_keys) and /var/lib/yolo-edge (models, snapshots). The system user itself is left in place, as
# sysusers.d(5) users are never deleted automatically (files may still carry its uid).
set -euo pipefail

ROOT="${DESTDIR:-/}"
PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="$2"; shift 2 ;;
        --root=*) ROOT="${1#*=}"; shift ;;
        --purge) PURGE=1; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
ROOT="$(cd "$ROOT" && pwd)"
R="${ROOT%/}"
say() { printf 'yolo-edge uninstall: %s\n' "$*"; }

if [ -z "$R" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now yolo-edge.service 2>/dev/null || true
elif [ -n "$R" ] && command -v systemctl >/dev/null; then
    systemctl --root="$ROOT" disable yolo-edge.service >/dev/null 2>&1 || true
else
    say "systemd is not running here: skipped systemctl"
fi
# Offline disable may not have run; never leave a dangling wants/ link behind.
rm -f "$R/etc/systemd/system/multi-user.target.wants/yolo-edge.service"

rm -f "$R/etc/systemd/system/yolo-edge.service" "$R/etc/sysusers.d/yolo-edge.conf"
rm -rf "$R/etc/systemd/system/yolo-edge.service.d"
rm -rf "$R/opt/yolo-edge" "$R/var/cache/yolo-edge"
if [ -z "$R" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl daemon-reload
fi

if [ "$PURGE" = 1 ]; then
    rm -rf "$R/etc/yolo-edge" "$R/var/lib/yolo-edge" "$R/var/lib/private/yolo-edge"
    say "purged config, API keys, models and snapshots"
else
    say "kept $R/etc/yolo-edge (config, API keys) and $R/var/lib/yolo-edge (models, snapshots);"
    say "remove them with --purge"
fi
say "done"
