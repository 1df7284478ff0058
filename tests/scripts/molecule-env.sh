# Sourced by the scripts that drive Molecule (tests/scripts/molecule.sh, tests/bench/*.sh) with VENV and REPO set:
# starts Docker, builds (or reuses) the test images and exports what the scenarios read.
# shellcheck shell=bash
bash "$REPO/tests/scripts/ensure-docker.sh"
# Roles and modules resolve as hostcare.vps through this link (also when a script runs without make).
mkdir -p "$REPO/.build/collections/ansible_collections/hostcare"
ln -sfn "$REPO" "$REPO/.build/collections/ansible_collections/hostcare/vps"

# A background build of the images (make test's images-background) is waited for rather than duplicated.
if ! flock -n /tmp/hostcare-images.lock true; then
  echo "==> waiting for the background build of the test images (.build/images.log)" >&2
  flock /tmp/hostcare-images.lock true
fi

# hostcare_suite_images SUITE: build (or find, by tag) the Debian suite's test images and export their names:
#   HOSTCARE_TEST_IMAGE      the plain base (sleep infinity): inner containers of Docker-in-Docker, the fleet bench
#   HOSTCARE_SYSTEMD_IMAGE   the base booting systemd as PID 1
#   HOSTCARE_SERVICES_IMAGE  systemd plus Docker, PostgreSQL, nginx and logrotate: the hosts of most scenarios
hostcare_suite_images() {
  HOSTCARE_SUITE="$1"
  HOSTCARE_TEST_IMAGE="$(bash "$REPO/tests/images/build.sh" "$1")"
  HOSTCARE_SYSTEMD_IMAGE="$(bash "$REPO/tests/images/build-systemd.sh" "$1")"
  HOSTCARE_SERVICES_IMAGE="$(bash "$REPO/tests/images/build-services.sh" "$1")"
  export HOSTCARE_SUITE HOSTCARE_TEST_IMAGE HOSTCARE_SYSTEMD_IMAGE HOSTCARE_SERVICES_IMAGE
}
hostcare_suite_images "${HOSTCARE_SUITE:-bookworm}"
export PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$REPO/.build/collections" ANSIBLE_FORCE_COLOR=false PY_COLORS=0
