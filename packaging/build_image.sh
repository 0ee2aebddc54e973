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
# The classic builder: Debian's docker.io has no buildx plugin, and the image needs nothing BuildKit adds.
# Host network for apt and pip during the build (no bridge NAT needed).
start=$(date +%s)
DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$base" -f packaging/Dockerfile -t "$tag" .
echo "built $tag in $(( $(date +%s) - start )) s: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')"
