"""creature.testing.require_usable: the driver where it runs; else skip, or fail where CI requires it, saying why."""

import pytest
from creature.drivers import Check, Driver, Probe
from creature.testing import require_usable


class Missing(Driver):
    name = "missing-hv"

    def probe(self, host):
        return Probe.of(self.name, [Check(name="binary", ok=False, reason="missing-hv is not installed (no /usr/bin/mhv)")])


class Present(Missing):
    name = "present-hv"

    def probe(self, host):
        return Probe.of(self.name, [Check(name="binary", ok=True, reason="/usr/bin/phv is there")])


@pytest.fixture
def api(creature_api):
    creature_api.registry.register(Missing, "creature-test")
    creature_api.registry.register(Present, "creature-test")
    return creature_api


def test_usable_driver_is_returned(api, monkeypatch):
    monkeypatch.setenv("CREATURE_REQUIRE_DRIVERS", "present-hv")
    assert isinstance(require_usable(api, "present-hv"), Present)


def test_unusable_driver_skips_naming_the_probes_reason(api, monkeypatch):
    monkeypatch.setenv("CREATURE_REQUIRE_DRIVERS", "lxc, other")
    with pytest.raises(pytest.skip.Exception, match=r"driver missing-hv is not usable on this host: .*no /usr/bin/mhv"):
        require_usable(api, "missing-hv")


def test_unusable_driver_fails_where_required(api, monkeypatch):
    monkeypatch.setenv("CREATURE_REQUIRE_DRIVERS", "lxc, missing-hv")
    with pytest.raises(pytest.fail.Exception, match=r"driver missing-hv is required here \(CREATURE_REQUIRE_DRIVERS\) .*no /usr/bin/mhv"):
        require_usable(api, "missing-hv")


def test_uninstalled_driver_skips_or_fails_where_required(api, monkeypatch):
    monkeypatch.delenv("CREATURE_REQUIRE_DRIVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"driver nowhere-hv is not installed .*known: .*present-hv"):
        require_usable(api, "nowhere-hv")
    monkeypatch.setenv("CREATURE_REQUIRE_DRIVERS", "nowhere-hv")
    with pytest.raises(pytest.fail.Exception, match=r"driver nowhere-hv is required here .* but not installed"):
        require_usable(api, "nowhere-hv")
