# The two set-up commands of the README: `make demo` and `make test` (both as root on Debian 12).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
PLUGINS := $(sort $(wildcard plugins/creature-*))
# Hypervisors and the tools the drivers and their tests use, all from Debian.
APT_PACKAGES := lxc busybox-static iproute2 e2fsprogs python3-venv python3-dev debootstrap xorriso genisoimage openssl libxenmisc4.17 qemu-utils qemu-system-x86 linux-image-amd64 systemd cpio kmod user-mode-linux uml-utilities procps libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-daemon-driver-lxc libvirt-clients libvirt-dev pkg-config iptables dnsmasq-base patchelf zstd
# The peers bench/peers.py compares with (LXD, Vagrant with its libvirt provider; libvirt is in APT_PACKAGES).
PEER_PACKAGES := lxd lxd-client vagrant vagrant-libvirt
STAMP := $(VENV)/.installed
# Wheels we build ourselves, kept across runs like the other version-keyed downloads.
WHEELS := /var/cache/creature/wheels
PIP = $(VENV)/bin/pip --retries 2 --timeout 20
# Drivers that must run on these machines: their conformance tests fail instead of skipping.
REQUIRE_DRIVERS ?= lxc,qemu,uml,libvirt-qemu,libvirt-lxc,ganeti

.PHONY: install apt apt-peers uml-kernel demo test bench bench-peers lint test-xen test-ganeti

install: apt $(STAMP) uml-kernel

# Debian 12's linux.uml panics on CPUs with AMX: a newer one from Debian testing, cached by its version
# (docs/uml-kernel.md). Uses the network only when no fetched kernel is cached yet.
uml-kernel: $(STAMP)
	$(VENV)/bin/creature uml fetch-kernel --if-missing

# the packages of $(1) that are not installed yet, from Debian
apt_install = missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

apt:
	@$(call apt_install,$(APT_PACKAGES))

# The peers' daemons are never started by their packages here (no systemd; each run starts its own, privately).
apt-peers:
	@$(call apt_install,$(PEER_PACKAGES))

$(STAMP): pyproject.toml core/pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(PY) -m venv $(VENV)
	mkdir -p $(WHEELS)
	$(PIP) install -qq --find-links $(WHEELS) --upgrade pip setuptools wheel
	@# the one compiled dependency (against libvirt-dev) is built once and kept, keyed by its version
	$(PIP) wheel -qq --find-links $(WHEELS) -w $(WHEELS) libvirt-python
	$(PIP) install -qq --find-links $(WHEELS) -e ./core $(addprefix -e ./,$(PLUGINS)) pytest ruff prometheus_client
	@# editable sources get no .pyc from pip, and PYTHONDONTWRITEBYTECODE environments never write one: compile once
	$(VENV)/bin/python -m compileall -q core/src $(addsuffix /src,$(PLUGINS)) >/dev/null
	touch $@

demo: install
	bash scripts/demo

test: install
	CREATURE_STRICT_PLUGINS=1 CREATURE_REQUIRE_DRIVERS=$(REQUIRE_DRIVERS) $(VENV)/bin/pytest

bench: install
	$(VENV)/bin/python bench/run

# creature side by side with LXD, virsh, Vagrant and the raw tools (docs/benchmarks-peers.md)
bench-peers: install apt-peers
	$(VENV)/bin/python bench/run peers

lint: install
	$(VENV)/bin/ruff check core plugins tests bench

# The Xen lab alone: Xen 4.17 under QEMU TCG with a Debian PV dom0, the xen driver's conformance
# suite inside it (tests/labs/xen; docs/xen-lab.md). `make test` runs it too.
test-xen: install
	CREATURE_STRICT_PLUGINS=1 CREATURE_REQUIRE_DRIVERS=xen $(VENV)/bin/pytest -rA -s tests/labs/xen

# The Ganeti lab alone: a real two-node Ganeti 3.0 cluster (Debian's packages) in network namespaces, the
# ganeti driver's conformance suite (kvm under TCG, and fake) and its cluster tests against it
# (tests/labs/ganeti; plugins/creature-ganeti/README.md). `make test` runs it too.
test-ganeti: install
	CREATURE_STRICT_PLUGINS=1 CREATURE_REQUIRE_DRIVERS=ganeti $(VENV)/bin/pytest -rA tests/labs/ganeti plugins/creature-ganeti
