"""The Xen driver: its probe here, its xl.cfg read back by Xen's own parser (libxlutil), its plans and parsers.

libxlutil and libxenlight come from Debian's libxenmisc4.17 (no hypervisor needed to parse);
the lifecycle itself runs in DriverConformance wherever a Xen dom0 is (the nested Xen lab).
"""

from __future__ import annotations

import ctypes
import json
import os
import tempfile
from pathlib import Path

import pytest
from creature.sdk import Driver, InputError, Machine, MachineSpec
from creature.testing import DriverConformance

ON_XEN = Path("/proc/xen/capabilities").exists()


class TestXenConformance(DriverConformance):
    driver = "xen"
    boot_timeout = 180
    stop_timeout = 60


# --- Xen's own configuration parser, through ctypes -------------------------------------------

class Xlu:
    """libxlutil's xl.cfg parser and libxenlight's disk-spec parser (the code `xl create` runs)."""

    def __init__(self):
        try:
            self.xlu = ctypes.CDLL("libxlutil.so.4.17")
            self.xl = ctypes.CDLL("libxenlight.so.4.17")
        except OSError as exc:
            pytest.skip(f"libxlutil is not installed (Debian package libxenmisc4.17): {exc}")
        self.libc = ctypes.CDLL(None)
        self.libc.fopen.restype = ctypes.c_void_p
        self.libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        self.libc.fclose.argtypes = [ctypes.c_void_p]
        x = self.xlu
        x.xlu_cfg_init.restype = ctypes.c_void_p
        x.xlu_cfg_init.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        x.xlu_cfg_readfile.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        x.xlu_cfg_readdata.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.xlu_cfg_destroy.argtypes = [ctypes.c_void_p]
        x.xlu_cfg_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
        x.xlu_cfg_get_long.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_long), ctypes.c_int]
        x.xlu_cfg_get_list.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                       ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        x.xlu_cfg_get_listitem.restype = ctypes.c_char_p
        x.xlu_cfg_get_listitem.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.xlu_disk_parse.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        fd, self.report_path = tempfile.mkstemp(prefix="xlu-report.")
        os.close(fd)
        self.report = self.libc.fopen(self.report_path.encode(), b"w")

    def close(self):
        self.libc.fclose(self.report)
        os.unlink(self.report_path)

    def messages(self) -> str:
        self.libc.fflush(None)
        return Path(self.report_path).read_text()

    def read(self, path: Path):
        cfg = self.xlu.xlu_cfg_init(self.report, str(path).encode())
        return cfg, self.xlu.xlu_cfg_readfile(cfg, str(path).encode())

    def read_data(self, text: str, source: str = "data.cfg"):
        cfg = self.xlu.xlu_cfg_init(self.report, source.encode())
        data = text.encode()
        return cfg, self.xlu.xlu_cfg_readdata(cfg, data, len(data))

    def string(self, cfg, key: str) -> str | None:
        value = ctypes.c_char_p()
        if self.xlu.xlu_cfg_get_string(cfg, key.encode(), ctypes.byref(value), 1):
            return None
        return value.value.decode()

    def long(self, cfg, key: str) -> int | None:
        value = ctypes.c_long()
        if self.xlu.xlu_cfg_get_long(cfg, key.encode(), ctypes.byref(value), 1):
            return None
        return value.value

    def list(self, cfg, key: str) -> list[str] | None:
        handle, count = ctypes.c_void_p(), ctypes.c_int()
        if self.xlu.xlu_cfg_get_list(cfg, key.encode(), ctypes.byref(handle), ctypes.byref(count), 1):
            return None
        return [self.xlu.xlu_cfg_get_listitem(handle, i).decode() for i in range(count.value)]

    def disk_ok(self, cfg, spec: str) -> bool:
        disk = ctypes.create_string_buffer(4096)  # larger than libxl_device_disk
        self.xl.libxl_device_disk_init(disk)
        specs = (ctypes.c_char_p * 1)(spec.encode())
        return self.xlu.xlu_disk_parse(cfg, 1, specs, disk) == 0


@pytest.fixture
def xlu():
    parser = Xlu()
    yield parser
    parser.close()


@pytest.fixture
def xen_files(creature_api, tmp_path):
    """What `create` writes for a 2-CPU, 192 MiB machine with two NICs, made in a staging folder as --dry-run does."""
    api = creature_api
    template = api.templates.build("bb", "busybox")
    spec = MachineSpec.parse({"name": "web", "driver": "xen", "template": "bb", "cpus": 2, "memory": "192M",
                              "nics": [{"network": "br-lan"}, {"mac": "00:16:3e:aa:bb:cc"}]})
    machine = Machine(spec=spec, dir=api.home.machine_dir("web"))
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o700)
    data = api.driver("xen").create(machine, template, staging)
    return machine, staging, data


def test_probe_names_each_missing_piece(creature_api):
    if ON_XEN:
        pytest.skip("this host runs on Xen: the not-usable reasons cannot be seen here")
    probe = creature_api.probe("xen")
    assert not probe.usable
    reasons = {c.name: c.reason for c in probe.checks if not c.ok}
    assert "/proc/xen/capabilities is missing" in reasons["dom0"]
    assert "xenstored is not reachable" in reasons["xenstored"]
    if "xl" in reasons:
        assert "xl not found" in reasons["xl"] and "xen-utils" in reasons["xl"]


def test_xl_cfg_is_read_back_by_libxlutil(xen_files, xlu):
    machine, staging, data = xen_files
    cfg, rc = xlu.read(staging / "xl.cfg")
    assert rc == 0, xlu.messages()
    assert xlu.string(cfg, "name") == "web"
    assert xlu.string(cfg, "type") == "pv"
    assert xlu.string(cfg, "kernel") == data["kernel"] and Path(data["kernel"]).is_file()
    assert xlu.string(cfg, "ramdisk") == data["ramdisk"]
    assert "root=/dev/xvda" in xlu.string(cfg, "extra") and "creature.hostname=web" in xlu.string(cfg, "extra")
    assert (xlu.long(cfg, "memory"), xlu.long(cfg, "maxmem"), xlu.long(cfg, "vcpus")) == (192, 192, 2)
    assert xlu.string(cfg, "on_poweroff") == "destroy"
    # paths inside the config name the final folder, never the staging one
    disks = xlu.list(cfg, "disk")
    assert disks == [f"format=raw, vdev=xvda, access=rw, target={machine.dir / 'disk.img'}"]
    assert xlu.disk_ok(cfg, disks[0]), xlu.messages()
    vifs = xlu.list(cfg, "vif")
    assert vifs[0].startswith("mac=00:16:3e:") and vifs[0].endswith("bridge=br-lan")
    assert vifs[1] == "mac=00:16:3e:aa:bb:cc, bridge=xenbr0"
    assert data["macs"][1] == "00:16:3e:aa:bb:cc"
    xlu.xlu.xlu_cfg_destroy(cfg)


def test_files_are_private_and_the_disk_is_sparse(xen_files):
    _machine, staging, data = xen_files
    for name in ("xl.cfg", "disk.img"):
        assert oct((staging / name).stat().st_mode & 0o777) == "0o600"
    disk = (staging / "disk.img").stat()
    assert disk.st_size == Path(data["base_image"]).stat().st_size
    assert disk.st_blocks * 512 < disk.st_size // 4, "the per-machine disk copy must stay sparse"


def test_broken_config_is_rejected_by_libxlutil(xen_files, xlu):
    _machine, staging, _data = xen_files
    text = (staging / "xl.cfg").read_text()
    broken = text.replace("disk = [", "disk = ", 1)
    cfg, rc = xlu.read_data(broken)
    assert rc != 0
    assert "syntax error" in xlu.messages()
    cfg, rc = xlu.read_data(text)
    assert rc == 0
    assert not xlu.disk_ok(cfg, "format=qcow9, vdev=xvda, target=/x/disk.img")
    assert "unknown value for format" in xlu.messages()


def test_values_xl_cfg_cannot_hold_are_refused():
    from creature_xen.xlcfg import quote

    with pytest.raises(InputError, match="quote"):
        quote('/srv/a"b')


def test_plans_follow_the_xl_manual(creature_api):
    # xl(1) (xenbits.xen.org/docs/4.17-testing/man/xl.1.html): "create [configfile]", "shutdown domain-id",
    # "domid domain-name" (fails once the domain is gone), "destroy domain-id", "list [-l|--long]".
    driver = creature_api.driver("xen")
    machine = Machine(spec=MachineSpec.parse({"name": "web", "driver": "xen", "template": "bb"}),
                      dir=creature_api.home.machine_dir("web"))
    xl = driver.xl()
    assert driver.plan(machine, "start") == [[xl, "create", str(machine.dir / "xl.cfg")]]
    assert driver.plan(machine, "stop") == [[xl, "shutdown", "web"], [xl, "domid", "web"], [xl, "destroy", "web"]]
    assert driver.plan(machine, "kill") == [[xl, "destroy", "web"]]
    assert driver.plan(machine, "state")[0] == [xl, "list", "-l"]
    assert driver.plan(machine, "create")[0][:2] == ["cp", "--sparse=always"]
    assert type(driver).plan is not Driver.plan


def test_xl_list_states_from_the_manual_example():
    from creature_xen.xl_output import parse_list_states, state_of

    # the EXAMPLE of "list" in xl(1), Xen 4.17 (xenbits.xen.org/docs/4.17-testing/man/xl.1.html)
    sample = """\
Name                                        ID   Mem VCPUs      State   Time(s)
Domain-0                                     0   750     4     r-----   11794.3
win                                          1  1019     1     r-----       0.3
linux                                        2  2048     2     r-----    5624.2
"""
    states = parse_list_states(sample)
    assert states == {"Domain-0": "r-----", "win": "r-----", "linux": "r-----"}
    assert state_of(states["linux"]).value == "running"
    # the STATES section of xl(1): p paused, s shutdown, c crashed, d dying
    assert [state_of(f).value for f in ("--p---", "---s--", "----c-", "-----d", None)] == [
        "paused", "stopped", "crashed", "stopped", "stopped"]


def _libxl_config_json(name: str) -> dict:
    """A domain's "config" exactly as xl prints it: libxenlight's own libxl_domain_config_gen_json."""
    try:
        xl = ctypes.CDLL("libxenlight.so.4.17")
        yajl = ctypes.CDLL("libyajl.so.2")
    except OSError as exc:
        pytest.skip(f"libxenlight/libyajl are not installed (Debian libxenmisc4.17): {exc}")
    yajl.yajl_gen_alloc.restype = ctypes.c_void_p
    yajl.yajl_gen_alloc.argtypes = [ctypes.c_void_p]
    yajl.yajl_gen_get_buf.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
    yajl.yajl_gen_free.argtypes = [ctypes.c_void_p]
    xl.libxl_domain_config_gen_json.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    gen = yajl.yajl_gen_alloc(None)
    config = ctypes.create_string_buffer(65536)  # larger than libxl_domain_config
    xl.libxl_domain_config_init(config)
    # libxl_domain_create_info starts the config: type, hap, oos, ssidref (4 bytes each), ssid_label, name
    c_name = ctypes.c_char_p(name.encode())
    ctypes.memmove(ctypes.addressof(config) + 24, ctypes.byref(c_name), ctypes.sizeof(c_name))
    assert xl.libxl_domain_config_gen_json(gen, config) == 0
    out, length = ctypes.c_char_p(), ctypes.c_size_t()
    yajl.yajl_gen_get_buf(gen, ctypes.byref(out), ctypes.byref(length))
    text = ctypes.string_at(out, length.value).decode()
    yajl.yajl_gen_free(gen)
    return json.loads(text)


def test_xl_list_long_json_as_libxenlight_writes_it():
    from creature_xen.xl_output import parse_list_long

    # xl's printf_info_one_json (tools/xl/xl_info.c) wraps each domain as {"domid": N, "config": ...} in a list
    doms = [{"domid": 0, "config": _libxl_config_json("Domain-0")}, {"domid": 7, "config": _libxl_config_json("web")}]
    assert doms[1]["config"]["c_info"]["name"] == "web"
    found = parse_list_long(json.dumps(doms, indent=4))
    assert sorted(found) == ["Domain-0", "web"] and found["web"].domid == 7
    assert parse_list_long("") == {}
    with pytest.raises(Exception, match="did not print JSON"):
        parse_list_long("(domain (domid 0) (name Domain-0))")


def test_a_machine_without_nics_or_initrd_parses_too(xlu):
    from creature_xen.xlcfg import XlDomain, render

    text = render(XlDomain(name="bare", kernel=Path("/boot/vmlinuz"), ramdisk=None, disk=Path("/m/bare/disk.img"),
                           memory=64, vcpus=1, cmdline="root=/dev/xvda"))
    cfg, rc = xlu.read_data(text)
    assert rc == 0, xlu.messages()
    assert xlu.list(cfg, "vif") == [] and xlu.string(cfg, "ramdisk") is None and xlu.long(cfg, "memory") == 64


def test_the_lab_race_machine_config_is_read_back_by_libxlutil(creature_api, xlu, tmp_path):
    """The xl.cfg of conformance_xen.py's race test (busybox template, 128M, no NICs, the host's kernel), as create writes it."""
    api = creature_api
    template = api.templates.build("bb", "busybox")
    spec = MachineSpec.parse({"name": "conf-race", "driver": "xen", "template": "bb", "memory": "128M"})
    machine = Machine(spec=spec, dir=api.home.machine_dir("conf-race"))
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o700)
    data = api.driver("xen").create(machine, template, staging)
    cfg, rc = xlu.read(staging / "xl.cfg")
    assert rc == 0, xlu.messages()
    assert (xlu.string(cfg, "name"), xlu.string(cfg, "type"), xlu.string(cfg, "kernel")) == ("conf-race", "pv", data["kernel"])
    assert xlu.string(cfg, "ramdisk") == data["ramdisk"]
    assert (xlu.long(cfg, "memory"), xlu.long(cfg, "maxmem"), xlu.long(cfg, "vcpus")) == (128, 128, 1)
    assert xlu.list(cfg, "vif") == []
    disks = xlu.list(cfg, "disk")
    assert disks == [f"format=raw, vdev=xvda, access=rw, target={machine.dir / 'disk.img'}"]
    assert xlu.disk_ok(cfg, disks[0]), xlu.messages()
    assert [xlu.string(cfg, k) for k in ("on_poweroff", "on_reboot", "on_crash")] == ["destroy", "restart", "destroy"]
    xlu.xlu.xlu_cfg_destroy(cfg)


def test_a_bzimage_kernel_is_loaded_as_its_cached_vmlinux(xen_files, tmp_path):
    """xl.cfg names the ELF vmlinux of dom0's bzImage (xl would decompress the bzImage at every create), made once."""
    from creature.sdk import is_bzimage

    machine, _staging, data = xen_files
    source, kernel = Path(data["kernel_source"]), Path(data["kernel"])
    assert is_bzimage(source.read_bytes()[:0x210]), f"{source} is dom0's /boot kernel, a bzImage"
    assert kernel != source and kernel.read_bytes()[:4] == b"\x7fELF" and kernel.stat().st_mode & 0o777 == 0o600
    from creature_xen.driver import pv_kernel
    mtime = kernel.stat().st_mtime_ns
    assert pv_kernel(source) == kernel and kernel.stat().st_mtime_ns == mtime, "a second machine reuses the extracted file"


def test_start_restores_a_vmlinux_the_cache_lost(creature_api, tmp_path, monkeypatch):
    """A cleaned cache does not break a machine: start extracts the file its xl.cfg names again."""
    from creature_xen.driver import XenDriver, host_kernel, pv_kernel

    monkeypatch.setenv("CREATURE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    source = host_kernel()[0]
    kernel = pv_kernel(source)
    assert kernel.is_relative_to(tmp_path / "cache")
    expected = kernel.read_bytes()
    kernel.unlink()
    spec = MachineSpec.parse({"name": "m", "driver": "xen", "template": "bb"})
    machine = Machine(spec=spec, dir=tmp_path / "m", data={"kernel": str(kernel), "kernel_source": str(source)})
    XenDriver._restore_kernel(machine)
    assert kernel.read_bytes() == expected


def test_an_elf_kernel_is_used_as_it_is(tmp_path):
    from creature_xen.driver import pv_kernel

    elf = tmp_path / "vmlinux-custom"
    elf.write_bytes(b"\x7fELF" + b"\0" * 1024)
    assert pv_kernel(elf) == elf


@pytest.mark.parametrize("folder", ["/srv/vm #1", "/srv/a,b=c", "/srv/it's", "/srv/[x] y", "/srv/a;b", "/srv/a+=b", "/srv/é"])
def test_paths_with_xl_syntax_in_them_are_read_back_verbatim(xlu, folder):
    from creature_xen.xlcfg import XlDomain, XlVif, render

    # a comment sign, list brackets, commas, '=' or ';' inside a value must stay inside its string
    base = Path(folder)
    domain = XlDomain(name="conf-race", kernel=base / "vmlinuz", ramdisk=base / "initrd.img", disk=base / "disk.img",
                      memory=4096, vcpus=8, cmdline="root=/dev/xvda rw console=hvc0 creature.hostname=conf-race",
                      vifs=[XlVif("00:16:3e:00:00:01", "xenbr0"), XlVif("00:16:3e:00:00:02", "br-lan")])
    cfg, rc = xlu.read_data(render(domain))
    assert rc == 0, xlu.messages()
    assert (xlu.string(cfg, "kernel"), xlu.string(cfg, "ramdisk")) == (str(base / "vmlinuz"), str(base / "initrd.img"))
    assert (xlu.long(cfg, "memory"), xlu.long(cfg, "vcpus")) == (4096, 8)
    disks = xlu.list(cfg, "disk")
    assert disks == [f"format=raw, vdev=xvda, access=rw, target={base / 'disk.img'}"]
    assert xlu.disk_ok(cfg, disks[0]), xlu.messages()
    assert xlu.list(cfg, "vif") == ["mac=00:16:3e:00:00:01, bridge=xenbr0", "mac=00:16:3e:00:00:02, bridge=br-lan"]
    xlu.xlu.xlu_cfg_destroy(cfg)


def test_an_xl_failure_names_the_subcommand_and_the_file_xl_could_not_parse(creature_api, xlu, tmp_path, monkeypatch):
    """What xl printed in the lab when it could not read its own /etc/xen/xl.conf: the message must say so."""
    from creature.sdk import CommandFailed

    # libxlutil's report for a global config holding bytes that look like code (the lab's dom0 read garbage)
    cfg, rc = xlu.read_data('#output_format="json"\nprintf("x")\n', source="/etc/xen/xl.conf")
    assert rc != 0
    report = xlu.messages()
    assert report.startswith("/etc/xen/xl.conf:2: config parsing error") and "Arbitrary Python" in report
    stderr = tmp_path / "stderr"
    stderr.write_text(report + "Failed to parse config file: Invalid argument\n")
    fake = tmp_path / "bin" / "xl"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat '{stderr}' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ.get('PATH', '')}")
    machine = Machine(spec=MachineSpec.parse({"name": "conf-race", "driver": "xen", "template": "bb"}),
                      dir=creature_api.home.machine_dir("conf-race"))
    with pytest.raises(CommandFailed) as failed:
        creature_api.driver("xen").states([machine])
    message = str(failed.value)
    assert message.startswith("xl list -l failed (exit 1): /etc/xen/xl.conf:2: config parsing error"), message
    assert message.endswith("Failed to parse config file: Invalid argument") and "\n" not in message
    assert failed.value.stderr == stderr.read_text()
