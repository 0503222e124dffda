"""The core's DriverConformance suite against the lab's real Ganeti cluster: kvm (QEMU TCG guests) and fake.

Each class works on a creature home whose machines live on the lab's cluster (a host added with
`host add --driver ganeti`): the API is that host's, and the CLI runs with CREATURE_HOST naming it.
"""

from __future__ import annotations

import pytest
from creature.testing import CLI, DriverConformance


class GanetiConformance(DriverConformance):
    driver = "ganeti"
    host = "lab"
    boot_timeout = 90
    stop_timeout = 30

    @pytest.fixture
    def creature_api(self, host_api):
        api = host_api(self.host)
        yield api
        api.inventory.close()

    @pytest.fixture
    def creature_cli(self, cluster_home) -> CLI:
        return CLI(cluster_home, env={"CREATURE_HOST": self.host})


@pytest.mark.slow
class TestGanetiKvm(GanetiConformance):
    """Real guests: the cluster's kvm hypervisor with kvm_flag=disabled (QEMU TCG), busybox booted from the template's disk."""

    host = "lab"


@pytest.mark.slow
class TestGanetiFake(GanetiConformance):
    """Ganeti's control plane alone: the fake hypervisor (no guest runs; every job, state and listing is real)."""

    host = "labfake"
