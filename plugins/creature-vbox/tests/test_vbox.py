"""The VirtualBox driver: probe reasons here, the VBoxManage plan against the manual, parsers on real outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from creature.model import Machine, MachineSpec
from creature.testing import DriverConformance

HAS_VBOX = Path("/dev/vboxdrv").exists()


class TestVboxConformance(DriverConformance):
    driver = "vbox"
    # the busybox template's ext4 image has no boot loader: a VirtualBox host needs a bootable template
    boot_timeout = 180


def _machine(api, **extra) -> Machine:
    spec = MachineSpec.parse({"name": "web", "driver": "vbox", "template": "bb", "cpus": 2, "memory": "384M", **extra})
    return Machine(spec=spec, dir=api.home.machine_dir("web"))


def test_probe_names_each_missing_piece(creature_api):
    if HAS_VBOX:
        pytest.skip("VirtualBox's kernel module is loaded here: the not-usable reasons cannot be seen")
    probe = creature_api.probe("vbox")
    reasons = {c.name: c.reason for c in probe.checks if not c.ok}
    assert not probe.usable
    assert "/dev/vboxdrv is missing" in reasons["vboxdrv"]
    if "VBoxManage" in reasons:
        assert reasons["VBoxManage"].startswith("VBoxManage not found")


def test_create_writes_the_vboxmanage_plan(creature_api, tmp_path):
    api = creature_api
    template = api.templates.build("bb", "busybox")
    machine = _machine(api, nics=[{"network": "br-lan"}, {"mac": "08:00:27:aa:bb:cc"}])
    staging = tmp_path / "staging"
    staging.mkdir()
    driver = api.driver("vbox")
    data = driver.create(machine, template, staging)
    machine.data = data
    written = json.loads((staging / "vboxmanage-define.json").read_text())
    assert written == driver.plan(machine, "create")
    assert oct((staging / "vboxmanage-define.json").stat().st_mode & 0o777) == "0o600"
    vbm = driver.vboxmanage()
    # VirtualBox manual, chapter 8 "VBoxManage" (virtualbox.org/manual/ch08.html):
    # createvm --name <name> --ostype <ostype> --basefolder <path> --register
    assert written[0] == [vbm, "createvm", "--name", "web", "--ostype", "Linux26_64", "--basefolder", str(machine.dir), "--register"]
    # modifyvm <vm> --cpus <n> --memory <MB> --boot1 disk --uart1 <I/O base> <IRQ> --uartmode1 file <file>
    # --nic<N> bridged --bridgeadapter<N> <device> --macaddress<N> <12 hex digits>
    modify = written[1]
    assert modify[:9] == [vbm, "modifyvm", "web", "--cpus", "2", "--memory", "384", "--boot1", "disk"]
    assert modify[9:15] == ["--uart1", "0x3F8", "4", "--uartmode1", "file", str(machine.dir / "console.log")]
    assert modify[15:19] == ["--nic1", "bridged", "--bridgeadapter1", "br-lan"]
    assert modify[19] == "--macaddress1" and modify[20].startswith("080027") and len(modify[20]) == 12
    assert modify[21:] == ["--nic2", "bridged", "--bridgeadapter2", "eth0", "--macaddress2", "080027AABBCC"]
    # convertfromraw <filename> <outputfile> --format VDI
    assert written[2] == [vbm, "convertfromraw", data["raw_disk"], str(machine.dir / "disk.vdi"), "--format", "VDI"]
    assert Path(data["raw_disk"]).is_file()
    # storagectl <vm> --name <name> --add sata --controller IntelAhci; storageattach ... --type hdd --medium <file>
    assert written[3] == [vbm, "storagectl", "web", "--name", "SATA", "--add", "sata", "--controller", "IntelAhci"]
    assert written[4] == [vbm, "storageattach", "web", "--storagectl", "SATA", "--port", "0", "--device", "0",
                          "--type", "hdd", "--medium", str(machine.dir / "disk.vdi")]


def test_lifecycle_plans_follow_the_manual(creature_api):
    driver = creature_api.driver("vbox")
    machine = _machine(creature_api)
    vbm = driver.vboxmanage()
    # VirtualBox manual chapter 8: startvm <vm> --type headless; controlvm <vm> acpipowerbutton|poweroff;
    # unregistervm <vm> --delete; showvminfo <vm> --machinereadable; list vms|runningvms
    assert driver.plan(machine, "start") == [[vbm, "startvm", "web", "--type", "headless"]]
    assert driver.plan(machine, "stop")[0] == [vbm, "controlvm", "web", "acpipowerbutton"]
    assert driver.plan(machine, "stop")[-1] == driver.plan(machine, "kill")[0] == [vbm, "controlvm", "web", "poweroff"]
    assert driver.plan(machine, "destroy") == [[vbm, "unregistervm", "web", "--delete"]]
    assert driver.plan(machine, "state") == [[vbm, "showvminfo", "web", "--machinereadable"]]
    assert driver.plan(machine, "list") == [[vbm, "list", "vms"], [vbm, "list", "runningvms"]]


def test_list_vms_parser_on_a_real_listing():
    from creature_vbox.vboxmanage import parse_list

    # from zulip/zulip docs/development/setup-vagrant.md ("os.symlink error": `vboxmanage list vms`)
    sample = '"zulip_default_1462498139595_55484" {5a65199d-8afa-4265-b2f6-6b1f162f157d}\n'
    assert parse_list(sample) == {"zulip_default_1462498139595_55484": "5a65199d-8afa-4265-b2f6-6b1f162f157d"}
    assert parse_list("") == {}


def test_showvminfo_parser_on_real_outputs():
    from creature_vbox.vboxmanage import parse_machinereadable, state_of

    # from hashicorp/vagrant issue #11952 (debug log of `VBoxManage showvminfo ... --machinereadable`)
    vagrant = '''name="managerA"
groups="/"
ostype="Ubuntu (64-bit)"
UUID="05e03479-f4e6-43e6-890f-928f02908b00"
CfgFile="/home/jquezada/VirtualBox VMs/managerA/managerA.vbox"
uart1="0x03f8,4"
uartmode1="file,/home/jquezada/vagrant_prjts/swarm_lab/ubuntu-xenial-16.04-cloudimg-console.log"
GuestMemoryBalloon=0
'''
    info = parse_machinereadable(vagrant)
    assert info["name"] == "managerA" and info["UUID"] == "05e03479-f4e6-43e6-890f-928f02908b00"
    assert info["CfgFile"] == "/home/jquezada/VirtualBox VMs/managerA/managerA.vbox"
    assert info["uartmode1"].startswith("file,") and info["GuestMemoryBalloon"] == "0"
    # from docker/machine issue #1913 (`showvminfo default --machinereadable`): quoted keys and numbers
    docker = '''VMStateChangeTime="2015-09-28T08:42:38.443000000"
monitorcount=1
storagecontrollername0="SATA"
"SATA-0-0"="/Users/joschi/.docker/machine/machines/default/boot2docker.iso"
"SATA-1-0"="/Users/joschi/.docker/machine/machines/default/disk.vmdk"
"SATA-2-0"="none"
'''
    info = parse_machinereadable(docker)
    assert info["SATA-1-0"] == "/Users/joschi/.docker/machine/machines/default/disk.vmdk"
    assert info["monitorcount"] == "1" and info["storagecontrollername0"] == "SATA"
    assert state_of(info).value == "unknown"
    # VMState values of the VirtualBox API's MachineState, as showvminfo prints them
    assert [state_of({"VMState": s}).value for s in ("running", "paused", "poweroff", "aborted")] == [
        "running", "paused", "stopped", "crashed"]
