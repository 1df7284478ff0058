#!/usr/bin/env bash
# Seed the sick host's Docker daemon (inside the test container) with what the heal must clean and what it must keep.
# $1: the base image loaded into this daemon.
set -euo pipefail
export DOCKER_BUILDKIT=1
BASE="$1"
work=/root/seed
mkdir -p "$work"

build() {  # build TAG DIR with the Dockerfile text on stdin
  mkdir -p "$work/$2"
  cat > "$work/$2/Dockerfile"
  docker build -q -t "$1" "$work/$2" >/dev/null
}

# Five releases of one app, built one second apart: v1 and v2 are old tags, v3..v5 the rollback points to keep.
for v in 1 2 3 4 5; do
  build "shop/web:v$v" "web$v" <<DOCKERFILE
FROM $BASE
RUN head -c $((v * 65536)) /dev/urandom > /release.bin && echo v$v > /version
CMD ["sleep", "infinity"]
DOCKERFILE
  sleep 1
done

# Rebuilds of one tag leave two dangling images behind.
for build_no in 1 2 3; do
  build shop/cron:latest "cron$build_no" <<DOCKERFILE
FROM $BASE
RUN head -c 65536 /dev/urandom > /cron.bin && echo $build_no > /build
DOCKERFILE
done

# Volumes with data: one the app mounts, one nothing mounts (never removed by the heal).
docker volume create shop-uploads >/dev/null
docker volume create shop-archive >/dev/null
docker run --rm -v shop-uploads:/data -v shop-archive:/archive "$BASE" sh -c \
  'head -c 1048576 /dev/urandom > /data/photos.bin; head -c 1048576 /dev/urandom > /archive/2025.bin'

# A report container that ran and stopped (accepted as a risk in the scenario: it must stay).
docker run --name nightly-report shop/web:v5 true

# The live app, its json log without max-size (no daemon.json).
docker run -d --name shop-web-1 -v shop-uploads:/data shop/web:v5 sh -c \
  'i=0; while [ $i -lt 2000 ]; do echo "GET /products/$i HTTP/1.1 200"; i=$((i+1)); done; exec sleep infinity'
