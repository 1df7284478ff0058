# hostcare.vps: everything a newcomer needs is two commands:
#   make audit   set up a pinned virtualenv and audit this machine (read-only)
#   make test    set up the whole toolchain and run the full test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11 is what the pinned toolchain is tested on; any python3 that ansible-core 2.19 supports works.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
VENV312 := .venv-py312
BUILD := .build
COLLECTIONS := $(CURDIR)/$(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/hostcare/vps
INVENTORY ?=
TARGET ?=
REPORT_DIR ?= $(CURDIR)/audit-reports
ANSIBLE_ENV := ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_NOCOLOR=$${ANSIBLE_NOCOLOR:-} ANSIBLE_FORCE_COLOR=$${ANSIBLE_FORCE_COLOR:-}

# With no INVENTORY the playbook audits this machine over a local connection (see playbooks/audit.yml).
ifeq ($(strip $(INVENTORY)),)
AUDIT_INVENTORY :=
else
AUDIT_INVENTORY := -i $(INVENTORY)
endif
AUDIT_EXTRA := -e report_dir=$(REPORT_DIR) $(if $(TARGET),-e target=$(TARGET))

.PHONY: help audit test images-background units units-py312 units-both lint lint-py312 sanity molecule galaxy-install audit-py312 ee bench clean

help:
	@echo "make audit [INVENTORY=hosts.ini] [TARGET=group]  audit hosts (default: this machine), read-only"
	@echo "make test                                        run the whole test suite (needs Docker; installs it as root on Debian)"
	@echo "make bench                                       run the benchmarks (results: docs/performance.md)"

# --- setup -------------------------------------------------------------------------------------
$(VENV)/.audit-ready: tests/requirements/audit.txt
	@test -n "$(PYTHON)" || { echo "ERROR: python3 not found; install Python 3.11 (Debian/Ubuntu: apt-get install python3 python3-venv)"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || bash tests/scripts/need-venv.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/requirements/audit.txt
	touch $@

$(VENV)/.test-ready: $(VENV)/.audit-ready tests/requirements/test.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/requirements/test.txt
	touch $@

$(VENV312)/.ready: tests/requirements/py312.txt
	bash tests/scripts/venv-py312.sh $(VENV312)
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

# --- the two commands ----------------------------------------------------------------------------
audit: $(VENV)/.audit-ready | $(COLLECTION_LINK)
	$(ANSIBLE_ENV) $(VENV)/bin/ansible-playbook $(AUDIT_INVENTORY) $(AUDIT_EXTRA) playbooks/audit.yml

# The unit runs mostly wait (Docker, PostgreSQL, timeouts): the static checks, the Galaxy install, the audit on
# Python 3.12 and the EE run beside them (tests/scripts/units-both.sh), then the Molecule scenarios.
test: images-background $(VENV)/.test-ready $(VENV312)/.ready | $(COLLECTION_LINK)
	UNITS_BESIDE='$(MAKE) --no-print-directory lint lint-py312 sanity galaxy-install audit-py312 ee' \
	  bash tests/scripts/units-both.sh $(VENV) $(VENV312)
	$(MAKE) --no-print-directory molecule
	@echo "make test: all suites passed"

# Debian 13's test images, built in the background while the unit tests (which mostly wait) run; the Molecule step
# waits for the build (tests/scripts/molecule-env.sh). Docker and the packages first: apt must not run twice at once.
images-background:
	bash tests/scripts/ensure-docker.sh
	bash tests/scripts/ensure-test-packages.sh
	mkdir -p $(BUILD)
	setsid bash tests/scripts/build-images.sh trixie >$(BUILD)/images.log 2>&1 </dev/null &

# --- suites --------------------------------------------------------------------------------------
units: $(VENV)/.test-ready | $(COLLECTION_LINK)
	bash tests/scripts/ensure-test-packages.sh
	bash tests/scripts/ensure-docker.sh
	$(VENV)/bin/pytest -q tests/unit

units-py312: $(VENV312)/.ready | $(COLLECTION_LINK)
	bash tests/scripts/ensure-test-packages.sh
	bash tests/scripts/ensure-docker.sh
	$(VENV312)/bin/pytest -q tests/unit

# units and units-py312 side by side (what make test runs): the suite waits far more than it computes.
units-both: $(VENV)/.test-ready $(VENV312)/.ready | $(COLLECTION_LINK)
	bash tests/scripts/units-both.sh $(VENV) $(VENV312)

lint: $(VENV)/.test-ready | $(COLLECTION_LINK)
	$(VENV)/bin/yamllint -s .
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(ANSIBLE_ENV) ansible-lint --profile production --strict
	$(VENV)/bin/antsibull-changelog lint

lint-py312: $(VENV312)/.ready | $(COLLECTION_LINK)
	PATH=$(CURDIR)/$(VENV312)/bin:$$PATH $(ANSIBLE_ENV) ansible-lint --profile production --strict

sanity: $(VENV)/.test-ready
	bash tests/scripts/sanity.sh $(VENV)

galaxy-install: $(VENV)/.test-ready
	bash tests/scripts/galaxy-install.sh $(VENV)

audit-py312: $(VENV312)/.ready | $(COLLECTION_LINK)
	$(ANSIBLE_ENV) $(VENV312)/bin/ansible-playbook -e report_dir=$(CURDIR)/$(BUILD)/audit-py312 playbooks/audit.yml
	test -s $(BUILD)/audit-py312/localhost.json

ee: $(VENV)/.test-ready
	bash tests/scripts/ee.sh $(VENV)

molecule: $(VENV)/.test-ready | $(COLLECTION_LINK)
	bash tests/scripts/molecule.sh $(VENV)

bench: $(VENV)/.test-ready | $(COLLECTION_LINK)
	$(VENV)/bin/python tests/bench/bench_disk_scan.py
	$(VENV)/bin/python tests/bench/bench_disk_extras.py
	bash tests/scripts/ensure-docker.sh
	$(VENV)/bin/python tests/bench/bench_docker_bloat.py
	$(VENV)/bin/python tests/bench/bench_docker_cleanup.py
	bash tests/scripts/ensure-test-packages.sh
	$(VENV)/bin/python tests/bench/bench_logrotate_loss.py
	bash tests/bench/bench_audit.sh $(VENV)
	bash tests/bench/bluegreen.sh $(VENV)
	bash tests/bench/bench_fleet.sh $(VENV)

clean:
	rm -rf $(BUILD) .pytest_cache audit-reports
