# Sourced by the scripts that drive Molecule (tests/scripts/molecule.sh, tests/bench/*.sh) with VENV and REPO set:
# starts Docker, builds (or reuses) the test images and exports what the scenarios read.
# shellcheck shell=bash
bash "$REPO/tests/scripts/ensure-docker.sh"
# Roles and modules resolve as hostcare.vps through this link (also when a script runs without make).
mkdir -p "$REPO/.build/collections/ansible_collections/hostcare"
ln -sfn "$REPO" "$REPO/.build/collections/ansible_collections/hostcare/vps"
HOSTCARE_TEST_IMAGE="$(bash "$REPO/tests/images/build.sh" bookworm)"
HOSTCARE_SERVICES_IMAGE="$(bash "$REPO/tests/images/build-services.sh" "$HOSTCARE_TEST_IMAGE")"
export HOSTCARE_TEST_IMAGE HOSTCARE_SERVICES_IMAGE
export PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$REPO/.build/collections" ANSIBLE_FORCE_COLOR=false PY_COLORS=0
