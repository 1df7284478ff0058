#!/usr/bin/env bash
# Seed the sick host's Docker daemon with the bloat the audit must find. Runs inside the test container,
# after the suite's base image and its services image (tagged as a PostgreSQL image) were loaded into this daemon.
#   seed-docker.sh BASE_IMAGE POSTGRES_IMAGE POSTGRES_MAJOR
set -euo pipefail
BASE="$1" PG_IMAGE="$2" PG_MAJOR="$3"
mkdir -p /root/seed  # prepare.yml runs this once (creates: /root/seed)
BASE_CMD="$(docker image inspect --format '{{json .Config.Cmd}}' "$BASE")"  # null for an imported rootfs
[ "$BASE_CMD" = null ] && BASE_CMD='[]'

# layer TAG SCRIPT [CMD_JSON [LABEL]]: one layer on the base image, made by running SCRIPT in a container and
# committing it (the shape a one-RUN Dockerfile gives; no builder needed: trixie's docker command comes without
# BuildKit's client, and its classic builder leaves intermediate images behind).
layer() {
  docker run --name hostcare-seed-layer "$BASE" sh -c "$2" >/dev/null
  docker commit --change "CMD ${3:-$BASE_CMD}" ${4:+--change "LABEL $4"} hostcare-seed-layer "$1" >/dev/null
  docker rm hostcare-seed-layer >/dev/null
}

# Six releases of one app, each with its own layer (1..6 MiB), built one second apart.
for v in 1 2 3 4 5 6; do
  layer "shop/web:v$v" "head -c $((v * 1048576)) /dev/urandom > /release.bin && echo v$v > /version" '["sleep", "infinity"]'
  sleep 1
done

# Two rebuilds of the same tag leave two dangling images behind.
for build_no in 1 2 3; do
  layer shop/cron:latest "head -c 2097152 /dev/urandom > /cron.bin && echo $build_no > /build"
done

# An image only a stopped container uses, and a labelled image no container uses.
layer shop/report:1 "head -c 3145728 /dev/urandom > /report.bin"
docker run --name nightly-report shop/report:1 true
layer shop/tools:pinned "head -c 1048576 /dev/urandom > /tools.bin" "" hostcare.keep=true

# The live app: a running container writing a big json log with no size limit.
docker run -d --name shop-web-1 shop/web:v6 sh -c \
  'i=0; while [ $i -lt 150000 ]; do echo "GET /products/$i HTTP/1.1 200 12ms ua=Mozilla/5.0 (X11; Linux x86_64) ref=https://shop.example/"; i=$((i+1)); done; exec sleep infinity'

# Named volumes with data: one in use by the database container, one that nothing mounts.
docker volume create shop-db >/dev/null
docker volume create shop-uploads >/dev/null
docker run --rm -v shop-uploads:/data "$BASE" sh -c 'head -c 5242880 /dev/urandom > /data/photos.bin'

# PostgreSQL with default settings in a container, its data on the named volume. The image's own command is
# systemd (the services test image): this container runs only the cluster.
docker run -d --name app-db-1 -v shop-db:/var/lib/postgresql "$PG_IMAGE" \
  sh -c "pg_ctlcluster $PG_MAJOR main start && exec sleep infinity"
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
