#!/usr/bin/env bash
# `make image`: yolo-edge:latest from packaging/Dockerfile, starting dockerd and making the Debian 12 base
# image (packaging/make_base_image.sh) when needed. Layers are cached: a code change rebuilds in seconds.
#   packaging/build_image.sh [TAG]      (default yolo-edge:latest; BASE overrides the base image)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-yolo-edge:latest}
base=${BASE:-yolo-edge-base:bookworm}
bash scripts/ensure_dockerd.sh
if [ "$base" = yolo-edge-base:bookworm ]; then
  BASE_TAG=$base bash packaging/make_base_image.sh
fi
# The runtime's wheels, fetched by the host's pip for the image's Python (Debian 12: CPython 3.11, glibc
# 2.36): the build then needs no TLS to PyPI (a proxy's certificate authority stays on the host).
wheels=build/wheelhouse
platforms=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for v in $(seq 5 36); do platforms+=(--platform "manylinux_2_${v}_x86_64"); done
mkdir -p "$wheels"
${PYTHON:-python3} -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
  > build/requirements-image.txt
# (once per requirement set: a rebuild with the same requirements asks no index)
if ! cmp -s build/requirements-image.txt "$wheels/.requirements"; then
  ${PYTHON:-python3} -m pip download -q --disable-pip-version-check --dest "$wheels" --only-binary=:all: \
    --python-version 3.11 --implementation cp "${platforms[@]}" -r build/requirements-image.txt 'setuptools>=77'
  cp build/requirements-image.txt "$wheels/.requirements"
fi

# ... served to the build on the host's loopback (the build runs on the host network), only meanwhile.
port=${WHEELS_PORT:-38731}
${PYTHON:-python3} -m http.server --bind 127.0.0.1 --directory "$wheels" "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  ${PYTHON:-python3} -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { echo "cannot serve the wheels on 127.0.0.1:$port (WHEELS_PORT)" >&2; exit 1; }
  sleep 0.1
done

# The classic builder: Debian's docker.io has no buildx plugin, and the image needs nothing BuildKit adds.
start=$(date +%s)
DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$base" \
  --build-arg "WHEELS_URL=http://127.0.0.1:$port/" -f packaging/Dockerfile -t "$tag" .
echo "built $tag in $(( $(date +%s) - start )) s: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')"
# The previous build of this tag, now untagged, goes (its layers still shared are kept).
docker image prune -f --filter label=org.opencontainers.image.title=yolo-edge >/dev/null
