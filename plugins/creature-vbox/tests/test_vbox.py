"""The VirtualBox driver: probe reasons here, the VBoxManage plan against the manual, parsers on real outputs."""

from __future__ import annotations

import json
from pathlib import Path

from creature.testing import DriverConformance
from creature.testing_plans import assert_plans, assert_private, plan_machine, staged_create, unusable_reasons


class TestVboxConformance(DriverConformance):
    driver = "vbox"
    # the busybox template's ext4 image has no boot loader: a VirtualBox host needs a bootable template
    boot_timeout = 180


def test_probe_names_each_missing_piece(creature_api):
    reasons = unusable_reasons(creature_api, "vbox", "vboxdrv", Path("/dev/vboxdrv"))
    if "VBoxManage" in reasons:
        assert reasons["VBoxManage"].startswith("VBoxManage not found")


def test_create_writes_the_vboxmanage_plan(creature_api, tmp_path):
    driver = creature_api.driver("vbox")
    machine = plan_machine(creature_api, "vbox", memory="384M", nics=[{"network": "br-lan"}, {"mac": "08:00:27:aa:bb:cc"}])
    data, staging = staged_create(creature_api, machine, tmp_path)
    machine.data = data
    written = json.loads((staging / "vboxmanage-define.json").read_text())
    assert written == driver.plan(machine, "create")
    assert_private(staging / "vboxmanage-define.json")
    vbm = driver.tool("VBoxManage")
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
    vbm = driver.tool("VBoxManage")
    # VirtualBox manual chapter 8: startvm <vm> --type headless; controlvm <vm> acpipowerbutton|poweroff;
    # unregistervm <vm> --delete; showvminfo <vm> --machinereadable; list vms|runningvms
    assert_plans(driver, plan_machine(creature_api, "vbox", memory="384M"), {
        "start": [[vbm, "startvm", "web", "--type", "headless"]],
        "stop": [[vbm, "controlvm", "web", "acpipowerbutton"], [vbm, "showvminfo", "web", "--machinereadable"],
                 [vbm, "controlvm", "web", "poweroff"]],
        "kill": [[vbm, "controlvm", "web", "poweroff"]],
        "destroy": [[vbm, "unregistervm", "web", "--delete"]],
        "state": [[vbm, "showvminfo", "web", "--machinereadable"]],
        "list": [[vbm, "list", "vms"], [vbm, "list", "runningvms"]],
    })


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
