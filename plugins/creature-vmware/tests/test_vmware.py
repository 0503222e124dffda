"""The VMware driver: probe reasons here, the .vmx writer/reader, the flat VMDK (read by qemu-img), vmrun plans."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from creature.sdk import run
from creature.testing import DriverConformance
from creature.testing_plans import assert_plans, assert_private, plan_machine, staged_create, unusable_reasons


class TestVmwareConformance(DriverConformance):
    driver = "vmware"
    boot_timeout = 180


@pytest.fixture
def vmware_files(creature_api, tmp_path):
    machine = plan_machine(creature_api, "vmware", memory="512M", nics=[{"network": "vmnet8"}, {}])
    machine.data, staging = staged_create(creature_api, machine, tmp_path)
    return machine, staging


def test_probe_names_each_missing_piece(creature_api):
    reasons = unusable_reasons(creature_api, "vmware", "vmmon", Path("/dev/vmmon"))
    if "vmrun" in reasons:
        assert reasons["vmrun"].startswith("vmrun not found")


def test_vmx_round_trips():
    from creature_vmware.vmx import read_vmx, write_vmx

    settings = {"displayName": 'a "quoted" | name # not a comment', "memsize": "512", "scsi0:0.fileName": "disk.vmdk",
                "annotation": "line one\nline two"}
    text = write_vmx(settings)
    assert text.startswith('.encoding = "UTF-8"\n')
    assert 'displayName = "a |22quoted|22 |7C name |23 not a comment"' in text
    assert read_vmx(text) == {".encoding": "UTF-8", **settings}
    with pytest.raises(ValueError):
        read_vmx("memsize = 512\n")


def test_vmx_reader_and_writer_on_a_vmware_written_file():
    from creature_vmware.vmx import read_vmx, write_vmx

    # the first lines of a .vmx written by VMware Fusion, kept as test data by libvirt:
    # libvirt/libvirt tests/vmx2xmldata/fusion-in-the-wild-1.vmx
    sample = """.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "9"
memsize = "3572"
MemAllowAutoScaleDown = "FALSE"
MemTrimRate = "-1"
displayName = "ATTM_VM"
guestOS = "winxppro"
numvcpus = "2"
ethernet0.present = "TRUE"
ethernet0.networkName = "VMnet0"
ethernet0.addressType = "generated"
ethernet0.connectionType = "bridged"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "ATTM_VM.vmdk"
ethernet0.generatedAddress = "00:0c:29:3b:64:ea"
uuid.location = "56 4d 70 88 01 a1 98 32-e7 2b 67 90 c7 3b 64 ea"
replay.filename = ""
usb:1.parent = "-1"
"""
    vmx = read_vmx(sample)
    assert vmx["memsize"] == "3572" and vmx["scsi0:0.fileName"] == "ATTM_VM.vmdk" and vmx["displayName"] == "ATTM_VM"
    assert vmx["ethernet0.generatedAddress"] == "00:0c:29:3b:64:ea" and vmx["replay.filename"] == ""
    assert write_vmx(vmx) == sample
    assert read_vmx(write_vmx(vmx)) == vmx


def test_written_vmx_describes_the_machine(vmware_files):
    from creature_vmware.vmx import read_vmx

    machine, staging = vmware_files
    vmx = read_vmx((staging / "web.vmx").read_text())
    assert (vmx["displayName"], vmx["numvcpus"], vmx["memsize"]) == ("web", "2", "512")
    assert vmx["scsi0:0.fileName"] == "disk.vmdk"
    assert vmx["serial0.fileName"] == str(machine.dir / "console.log")
    assert (vmx["ethernet0.connectionType"], vmx["ethernet0.vnet"]) == ("custom", "vmnet8")
    assert vmx["ethernet1.connectionType"] == "bridged"
    for i in (0, 1):
        mac = vmx[f"ethernet{i}.address"]
        # VMware accepts static MACs only in 00:50:56:00:00:00-00:50:56:3F:FF:FF
        assert mac.startswith("00:50:56:") and int(mac.split(":")[3], 16) <= 0x3F
        assert vmx[f"ethernet{i}.addressType"] == "static"
    assert machine.data["macs"] == [vmx["ethernet0.address"], vmx["ethernet1.address"]]
    assert_private(*(staging / name for name in ("web.vmx", "disk.vmdk", "disk-flat.img")))


def test_flat_vmdk_is_read_by_qemu_img(vmware_files):
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        pytest.skip("qemu-img (Debian package qemu-utils) is not installed: no independent VMDK reader")
    _machine, staging = vmware_files
    info = json.loads(run([qemu_img, "info", "--output=json", str(staging / "disk.vmdk")]).stdout)
    assert info["format"] == "vmdk"
    assert info["virtual-size"] == (staging / "disk-flat.img").stat().st_size
    # the descriptor's extent is the raw image itself: both read back the same bytes
    run([qemu_img, "compare", "-f", "vmdk", "-F", "raw", str(staging / "disk.vmdk"), str(staging / "disk-flat.img")])


def test_plans_follow_the_vmrun_manual(creature_api):
    # "Using vmrun to Control Virtual Machines" (VMware VIX): vmrun -T ws start <vmx> [gui|nogui],
    # vmrun -T ws stop <vmx> [hard|soft], vmrun -T ws list
    driver = creature_api.driver("vmware")
    machine = plan_machine(creature_api, "vmware", memory="512M")
    vmrun, vmx = [driver.tool("vmrun"), "-T", "ws"], str(machine.dir / "web.vmx")
    assert_plans(driver, machine, {
        "start": [[*vmrun, "start", vmx, "nogui"]],
        "stop": [[*vmrun, "stop", vmx, "soft"], [*vmrun, "list"], [*vmrun, "stop", vmx, "hard"]],
        "kill": [[*vmrun, "stop", vmx, "hard"]],
        "destroy": [],
        "list": [[*vmrun, "list"]],
    })


def test_vmrun_list_parser():
    from creature_vmware.vmrun import parse_vmrun_list

    # gowathena/arpo_replica setup guide, "Step 3: Verify vmrun Works": `vmrun -T fusion list`
    assert parse_vmrun_list("Total running VMs: 0\n") == []
    # the same format with running machines: the header, then one .vmx path a line
    listing = "Total running VMs: 2\n/vms/web/web.vmx\n/srv/vm space/db/db.vmx\n"
    assert parse_vmrun_list(listing) == [Path("/vms/web/web.vmx"), Path("/srv/vm space/db/db.vmx")]
    with pytest.raises(ValueError):
        parse_vmrun_list("Error: The operation is not supported\n")


def test_macs_outside_vmwares_static_range_are_refused():
    from creature.sdk import InputError
    from creature_vmware.driver import check_static_mac

    assert check_static_mac("00:50:56:3f:ff:ff") == "00:50:56:3f:ff:ff"
    for mac in ("00:50:56:40:00:00", "00:0c:29:3b:64:ea"):
        with pytest.raises(InputError, match="00:50:56:3f:ff:ff"):
            check_static_mac(mac)
