#!/usr/bin/env bash
# Seed the sick host's Docker daemon with the bloat the audit must find. Runs inside the test container,
# after the base image (hostcare-test/debian-bookworm:latest) and the services image (as postgres:15-local)
# were loaded into this daemon.
set -euo pipefail
export DOCKER_BUILDKIT=1
BASE=hostcare-test/debian-bookworm:latest
work=/root/seed
mkdir -p "$work"

build() {  # build TAG DIR with the Dockerfile text on stdin
  mkdir -p "$work/$2"
  cat > "$work/$2/Dockerfile"
  docker build -q -t "$1" "$work/$2" >/dev/null
}

# Six releases of one app, each with its own layer (1..6 MiB), built one second apart.
for v in 1 2 3 4 5 6; do
  build "shop/web:v$v" "web$v" <<DOCKERFILE
FROM $BASE
RUN head -c $((v * 1048576)) /dev/urandom > /release.bin && echo v$v > /version
CMD ["sleep", "infinity"]
DOCKERFILE
  sleep 1
done

# Two rebuilds of the same tag leave two dangling images behind.
for build_no in 1 2 3; do
  build shop/cron:latest "cron$build_no" <<DOCKERFILE
FROM $BASE
RUN head -c 2097152 /dev/urandom > /cron.bin && echo $build_no > /build
DOCKERFILE
done

# An image only a stopped container uses, and a labelled image no container uses.
build shop/report:1 report <<DOCKERFILE
FROM $BASE
RUN head -c 3145728 /dev/urandom > /report.bin
DOCKERFILE
docker run --name nightly-report shop/report:1 true
build shop/tools:pinned tools <<DOCKERFILE
FROM $BASE
LABEL hostcare.keep=true
RUN head -c 1048576 /dev/urandom > /tools.bin
DOCKERFILE

# The live app: a running container writing a big json log with no size limit.
docker run -d --name shop-web-1 shop/web:v6 sh -c \
  'i=0; while [ $i -lt 150000 ]; do echo "GET /products/$i HTTP/1.1 200 12ms ua=Mozilla/5.0 (X11; Linux x86_64) ref=https://shop.example/"; i=$((i+1)); done; exec sleep infinity'

# Named volumes with data: one in use by the database container, one that nothing mounts.
docker volume create shop-db >/dev/null
docker volume create shop-uploads >/dev/null
docker run --rm -v shop-uploads:/data "$BASE" sh -c 'head -c 5242880 /dev/urandom > /data/photos.bin'

# PostgreSQL 15 with default settings in a container, its data on the named volume.
docker run -d --name app-db-1 -v shop-db:/var/lib/postgresql postgres:15-local \
  sh -c 'pg_ctlcluster 15 main start && exec sleep infinity'
for _ in $(seq 1 30); do
  if docker exec -u postgres app-db-1 psql -XAtc 'select 1' >/dev/null 2>&1; then break; fi
  sleep 1
done
docker exec -u postgres app-db-1 psql -XAtc 'select 1' >/dev/null

# Wait until the web container wrote its whole log.
for _ in $(seq 1 60); do
  size=$(stat -c %s "$(docker inspect -f '{{.LogPath}}' shop-web-1)")
  [ "$size" -gt 15000000 ] && break
  sleep 1
done
