#!/bin/bash
# Inside the lab's dom0: the xen driver's conformance suite against the real xl, its JUnit report
# into the shared folder. creature + creature-xen come from /lab/site (installed from wheels on the host).
export PYTHONPATH=/lab/site
# progress reaches the shared log as it happens (a dom0 killed at the timeout still tells how far it got)
export PYTHONUNBUFFERED=1
# only the plugins named here: the lab tests the creature plugin, nothing else that may be installed
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
# a broken plugin or an unusable xen driver fails the suite instead of skipping it
export CREATURE_STRICT_PLUGINS=1 CREATURE_REQUIRE_DRIVERS=xen
cd /lab
# pytest.args (one argument a line), when the runner writes it: e.g. -x or -k for a debugging run
extra=()
[ -f /lab/pytest.args ] && mapfile -t extra < /lab/pytest.args
exec python3 -m pytest -p creature.testing -p no:cacheprovider -o addopts= --rootdir=/lab \
    -v -rA --durations=0 --junitxml=/lab/out/junit.xml "${extra[@]}" /lab/conformance_xen.py
