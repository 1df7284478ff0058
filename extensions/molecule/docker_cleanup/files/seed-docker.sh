#!/usr/bin/env bash
# Seed a Docker daemon like the audit's sick host, for the docker_cleanup scenario and its benchmark.
# Runs inside the test container, after hostcare-test/debian-bookworm:latest was loaded into its daemon.
# SEED_RELEASES releases of shop/web (default 6), each with SEED_MIB MiB of its own (default 1) and build cache
# of SEED_CACHE_MIB MiB (default 3) that no image shares: the benchmark seeds a host after many deploys.
set -euo pipefail
export DOCKER_BUILDKIT=1
BASE=hostcare-test/debian-bookworm:latest
MIB=1048576
RELEASES=${SEED_RELEASES:-6}
RELEASE_BYTES=$(( ${SEED_MIB:-1} * MIB ))
CACHE_BYTES=$(( ${SEED_CACHE_MIB:-3} * MIB ))
work=/root/seed
mkdir -p "$work"

build() {  # build TAG DIR with the Dockerfile text on stdin
  mkdir -p "$work/$2"
  cat > "$work/$2/Dockerfile"
  docker build -q -t "$1" "$work/$2" >/dev/null
}

# Releases of one app, each with its own layer, built one second apart (keep is by build time).
for v in $(seq 1 "$RELEASES"); do
  build "shop/web:v$v" "web$v" <<DOCKERFILE
FROM $BASE
RUN head -c $((RELEASE_BYTES + v * 4096)) /dev/urandom > /release.bin && echo v$v > /version
CMD ["sleep", "infinity"]
DOCKERFILE
  sleep 1
done
live=shop/web:v$RELEASES
previous=shop/web:v$((RELEASES - 1))

# Builds of the same tag leave dangling images behind (two by default).
for build_no in $(seq 1 $(( ${SEED_DANGLING:-2} + 1 ))); do
  build shop/cron:latest "cron$build_no" <<DOCKERFILE
FROM $BASE
RUN head -c $((2 * MIB)) /dev/urandom > /cron.bin && echo $build_no > /build
DOCKERFILE
done

# Four report builds; the oldest is beyond keep but a stopped container still uses it.
for r in 1 2 3 4; do
  build "shop/report:$r" "report$r" <<DOCKERFILE
FROM $BASE
RUN head -c $((MIB / 2)) /dev/urandom > /report.bin && echo $r > /build
DOCKERFILE
  sleep 1
done
docker run --name nightly-report shop/report:1 true

# Four tools builds; the oldest is beyond keep but labelled hostcare.keep=true.
for t in 1 2 3 4; do
  build "shop/tools:$t" "tools$t" <<DOCKERFILE
FROM $BASE
$( [ "$t" = 1 ] && echo 'LABEL hostcare.keep=true' )
RUN head -c $((MIB / 2)) /dev/urandom > /tools.bin && echo $t > /build
DOCKERFILE
  sleep 1
done

# Blue-green: the newest release live (blue, running, restarted with the daemon), the one before kept for
# rollback (green, stopped, labelled); the state file also names v2, older than keep, as a rollback point.
bg_labels() { echo "--label hostcare.bluegreen.app=shop --label hostcare.bluegreen.colour=$1 --label hostcare.bluegreen.release=$(docker image inspect -f '{{.Id}}' "$2") --label hostcare.keep=true"; }
# shellcheck disable=SC2046
docker run -d --restart unless-stopped --name shop-web-blue $(bg_labels blue "$live") "$live" >/dev/null
# shellcheck disable=SC2046
docker create --name shop-web-green $(bg_labels green "$previous") "$previous" >/dev/null
docker start shop-web-green >/dev/null && docker stop -t 1 shop-web-green >/dev/null
mkdir -p /var/lib/hostcare/bluegreen
release() {  # release COLOUR CONTAINER TAG
  printf '{"colour": "%s", "container": "%s", "image": "%s", "image_id": "%s", "deployed_at": "2026-11-20T10:00:00Z"}' \
    "$1" "$2" "$3" "$(docker image inspect -f '{{.Id}}' "$3")"
}
live=$(release blue shop-web-blue "$live")
cat > /var/lib/hostcare/bluegreen/shop.json.tmp <<JSON
{"app": "shop", "live": $live, "releases": [$live, $(release green shop-web-green "$previous"), $(release blue shop-web-old shop/web:v2)]}
JSON
mv /var/lib/hostcare/bluegreen/shop.json.tmp /var/lib/hostcare/bluegreen/shop.json

# A one-off job container that exited.
docker run --name old-job shop/cron:latest true

# A named volume holding data that no container mounts: `docker system prune --volumes` territory.
docker volume create shop-uploads >/dev/null
docker run --rm -v shop-uploads:/data "$BASE" sh -c 'head -c 1048576 /dev/urandom > /data/photos.bin && sha256sum /data/photos.bin > /data/photos.sha256'

# Build cache that no image shares: a multi-stage build whose first stage is thrown away.
build shop/assets:latest assets <<DOCKERFILE
FROM $BASE AS compile
RUN head -c $CACHE_BYTES /dev/urandom > /toolchain.bin && head -c 1024 /toolchain.bin > /bundle.js
FROM $BASE
COPY --from=compile /bundle.js /srv/bundle.js
DOCKERFILE
