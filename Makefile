# The two set-up commands of the README: `make demo` and `make test` (both as root on Debian 12).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
PLUGINS := $(sort $(wildcard plugins/creature-*))
# Hypervisors and the tools the drivers and their tests use, all from Debian.
APT_PACKAGES := lxc busybox-static iproute2 e2fsprogs python3-venv python3-dev
STAMP := $(VENV)/.installed
# Drivers that must run on these machines: their conformance tests fail instead of skipping.
REQUIRE_DRIVERS ?= lxc

.PHONY: install apt demo test bench lint

install: apt $(STAMP)

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml core/pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip setuptools wheel
	$(VENV)/bin/pip install -q -e ./core $(addprefix -e ./,$(PLUGINS)) pytest ruff
	touch $@

demo: install
	bash scripts/demo

test: install
	CREATURE_STRICT_PLUGINS=1 CREATURE_REQUIRE_DRIVERS=$(REQUIRE_DRIVERS) $(VENV)/bin/pytest

bench: install
	$(VENV)/bin/python bench/run

lint: install
	$(VENV)/bin/ruff check core plugins tests bench
