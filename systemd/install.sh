#!/usr/bin/env bash
# Install yolo-edge as a hardened systemd service.
#
#   sudo systemd/install.sh --model models/yolov8n   # the real thing: /opt, /etc, /var, enable + start
#   systemd/install.sh --root /tmp/img --no-model    # into another root (image build, tests): no systemctl
#
# Puts a runtime-only virtualenv (no torch, no ultralytics) in /opt/yolo-edge/venv, the unit in
# /etc/systemd/system, the service user in /etc/sysusers.d, a default /etc/yolo-edge/config.yaml (never
# overwritten), and an API key in /etc/yolo-edge/api_keys if there is none: the key is printed once and
# only its sha256 is stored. Re-running upgrades the venv and the unit and keeps config, keys and models.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: install.sh [--root DIR] [--python PY] (--model DIR... | --no-model) [--no-deps] [--pip-arg ARG]... [--no-start]

  --root DIR     install below DIR instead of / (also: DESTDIR=DIR); systemctl is then only used
                 offline (systemctl --root DIR enable), never to start anything
  --python PY    interpreter for the virtualenv (default: python3, needs >= 3.10 and the venv module)
  --model DIR    copy an Ultralytics OpenVINO export folder into the model repository (repeatable),
                 e.g. the default model `make serve` prepared: --model models/yolov8n (or models/yolo11n-pose);
                 needed unless the repository already holds a model (a re-run, an upgrade)
  --no-model     install with an empty model repository: the service is enabled but cannot start
                 until a model folder is added
  --no-deps      install the yolo-edge package only, not its dependencies (tests, offline rebuilds)
  --pip-arg ARG  pass ARG to pip install (repeatable), e.g. --pip-arg=--find-links=/srv/wheels
  --no-start     enable the service but do not (re)start it
EOF
}

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="${DESTDIR:-/}"
PYTHON="${PYTHON:-python3}"
PIP_ARGS=()
MODELS=()
NO_MODEL=0
START=1

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="$2"; shift 2 ;;
        --root=*) ROOT="${1#*=}"; shift ;;
        --python) PYTHON="$2"; shift 2 ;;
        --python=*) PYTHON="${1#*=}"; shift ;;
        --model) MODELS+=("$2"); shift 2 ;;
        --model=*) MODELS+=("${1#*=}"); shift ;;
        --no-model) NO_MODEL=1; shift ;;
        --no-deps) PIP_ARGS+=("--no-deps"); shift ;;
        --pip-arg) PIP_ARGS+=("$2"); shift 2 ;;
        --pip-arg=*) PIP_ARGS+=("${1#*=}"); shift ;;
        --no-start) START=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

ROOT="$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)"
R="${ROOT%/}"                       # prefix to join with absolute paths ("" for /)
OPT=/opt/yolo-edge
VENV="$OPT/venv"
ETC=/etc/yolo-edge
STATE=/var/lib/yolo-edge
CACHE=/var/cache/yolo-edge
UNIT=/etc/systemd/system/yolo-edge.service
SYSUSERS=/etc/sysusers.d/yolo-edge.conf

say() { printf 'yolo-edge install: %s\n' "$*"; }

# A model folder is a non-dot folder with an .xml (what the daemon serves; dot-folders are staging).
has_model() { local d; for d in "$1"/*/; do compgen -G "$d*.xml" >/dev/null && return 0; done; return 1; }

live_systemd() { [ -z "$R" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

# 0. A service with an empty model repository cannot start: refuse before installing anything. The device
# venv has no torch, so no default model is exported here; `make serve` on a checkout prepares one.
if [ ${#MODELS[@]} -eq 0 ] && [ "$NO_MODEL" = 0 ] && ! has_model "$R$STATE/models"; then
    cat >&2 <<EOF
install.sh: no --model given and $STATE/models holds no model, so the service could not start.
  Give one or more model folders (Ultralytics OpenVINO exports), e.g. the default model that
  'make serve' prepares in this checkout (its MODEL_ID is yolov8n, or yolo11n-pose offline):
    sudo systemd/install.sh --model models/yolov8n
  or a bundle of your own from yolo-edge-convert (docs/conversion.md).
  Or pass --no-model to install now and add a model folder to $STATE/models later.
EOF
    exit 2
fi

# 1. The runtime virtualenv: `pip install <repo>` without extras, so no torch and no ultralytics.
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || { echo "install.sh: $PYTHON is older than 3.10" >&2; exit 1; }
if [ ! -x "$R$VENV/bin/python" ]; then
    say "creating virtualenv $R$VENV"
    mkdir -p "$R$OPT"
    "$PYTHON" -m venv "$R$VENV"
fi
say "installing yolo-edge from $SRC into $R$VENV"
"$R$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --upgrade \
    ${PIP_ARGS[@]+"${PIP_ARGS[@]}"} "$SRC"
if "$R$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("torch") or u.find_spec("ultralytics")))'; then
    echo "install.sh: torch or ultralytics ended up in the runtime venv; refusing" >&2
    exit 1
fi
if [ -n "$R" ]; then
    # Scripts written by pip carry the staging path; point them at where the tree will live.
    grep -rlI --null -F "$R$VENV" "$R$VENV/bin" | xargs -0 -r sed -i "s#$R$VENV#$VENV#g"
fi
install -m 0755 "$SRC/systemd/uninstall.sh" "$R$OPT/uninstall.sh"

# 2. Unit and service user.
install -D -m 0644 "$SRC/systemd/yolo-edge.service" "$R$UNIT"
install -D -m 0644 "$SRC/systemd/yolo-edge.sysusers" "$R$SYSUSERS"

# 3. Config: the default only where there is none; the shipped default always sits beside it.
install -d -m 0755 "$R$ETC"
install -m 0644 "$SRC/systemd/config.yaml" "$R$ETC/config.yaml.dist"
if [ ! -e "$R$ETC/config.yaml" ]; then
    install -m 0644 "$SRC/systemd/config.yaml" "$R$ETC/config.yaml"
    say "wrote default config $R$ETC/config.yaml"
else
    say "kept existing config $R$ETC/config.yaml (shipped default: config.yaml.dist)"
fi

# 4. An API key, only if there is none. Stored as sha256:<hex>; the key itself is shown here, once.
KEYS="$R$ETC/api_keys"
if [ -s "$KEYS" ] && grep -qvE '^[[:space:]]*(#|$)' "$KEYS"; then
    say "kept existing API keys in $KEYS (not shown)"
else
    KEY="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    HASH="$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)"
    ( umask 077; printf '# one key per line: the key itself or sha256:<hex> of it\nsha256:%s\n' "$HASH" > "$KEYS" )
    chmod 0600 "$KEYS"
    echo
    echo "  API key (shown once, only its sha256 is stored in $ETC/api_keys):"
    echo
    echo "    $KEY"
    echo
    echo "  Send it as the x-api-key header."
    echo
fi

# 5. Model repository, snapshots, compile cache (systemd creates and chowns these too, at start).
install -d -m 0750 "$R$STATE" "$R$STATE/models" "$R$STATE/snapshots" "$R$CACHE" "$R$CACHE/openvino"
for m in ${MODELS[@]+"${MODELS[@]}"}; do
    [ -f "$m/metadata.yaml" ] || { echo "install.sh: $m has no metadata.yaml (not an Ultralytics export)" >&2; exit 1; }
    say "adding model $(basename "$m")"
    rm -rf "${R:?}$STATE/models/$(basename "$m")"
    cp -r "$m" "$R$STATE/models/"
done

# 6. systemd: live only on a booted system with systemd as PID 1; offline enable for another root.
if live_systemd; then
    systemd-sysusers "$SYSUSERS"
    chown -R yolo-edge:yolo-edge "$STATE" "$CACHE"
    systemctl daemon-reload
    systemctl enable yolo-edge.service
    if [ "$START" = 1 ] && [ -n "$(ls -A "$STATE/models")" ]; then
        systemctl restart yolo-edge.service
        say "started: systemctl status yolo-edge; journalctl -u yolo-edge -f"
    else
        say "enabled; add a model folder to $STATE/models, then: systemctl start yolo-edge"
    fi
elif [ -n "$R" ] && command -v systemctl >/dev/null; then
    systemctl --root="$ROOT" enable yolo-edge.service >/dev/null 2>&1 \
        && say "enabled in $ROOT (offline); the user is created by systemd-sysusers at first boot" \
        || say "could not enable offline; run 'systemctl enable yolo-edge' on the target"
else
    say "systemd is not running here: skipped systemctl; on the target run:"
    say "  systemd-sysusers; systemctl daemon-reload; systemctl enable --now yolo-edge"
fi
say "done"
