"""The Xen driver: PV domains through xl, configured by a generated xl.cfg, disks as per-machine raw copies."""

from __future__ import annotations

import hashlib
import re
import subprocess
import time
from pathlib import Path

from creature.sdk import (
    Capabilities,
    Check,
    CommandFailed,
    CopySnapshots,
    CreatureError,
    Driver,
    HostFacts,
    Machine,
    MachineData,
    Probe,
    State,
    StopResult,
    Template,
    derived_mac,
    disk_image,
    is_bzimage,
    run,
    shared_cache,
    vmlinux_file,
    which,
    write_private,
)

from creature_xen.xl_output import parse_list_long, parse_list_states, state_of
from creature_xen.xlcfg import XlDomain, XlVif, render

CAPABILITIES = Path("/proc/xen/capabilities")
XENSTORED_SOCKETS = (Path("/run/xenstored/socket"), Path("/var/run/xenstored/socket"), Path("/dev/xen/xenbus"))
CONSOLE_LOGS = Path("/var/log/xen")
DEFAULT_BRIDGE = "xenbr0"
# after `xl shutdown -w` or `xl destroy` the domain may linger for seconds (notes/xen-lab.md)
TEARDOWN_TIMEOUT = 15.0


class XlFailed(CommandFailed):
    """An xl command exited non-zero: the message names the subcommand (`xl create` and `xl list` fail differently)."""

    def __init__(self, argv: list[str], returncode: int, stderr: str):
        super().__init__(argv, returncode, stderr, what=f"xl {' '.join(argv[1:])}")


def host_kernel(boot: Path = Path("/boot")) -> tuple[Path, Path | None]:
    """The newest /boot/vmlinuz-* and its initrd.img-* (Debian's kernels boot as Xen PV guests)."""
    def version_key(path: Path):
        return [int(p) if p.isdigit() else p for p in re.split(r"[.-]", path.name.removeprefix("vmlinuz-"))]

    kernels = sorted(boot.glob("vmlinuz-*"), key=version_key)
    if not kernels:
        raise CreatureError(f"no kernel for a Xen PV guest: no {boot}/vmlinuz-* and the template sets no 'kernel'")
    kernel = kernels[-1]
    initrd = boot / ("initrd.img-" + kernel.name.removeprefix("vmlinuz-"))
    return kernel, initrd if initrd.exists() else None


def pv_kernel(kernel: Path) -> Path:
    """The file xl should load for kernel: a bzImage's ELF vmlinux, extracted once into the shared cache.

    `xl create` decompresses a bzImage in dom0 at every start (14 s of a 16 s create in the Xen lab under
    TCG, 2 s with the vmlinux); Xen's PV domain builder loads the ELF as it is. Keyed by the kernel's path,
    size and mtime, so an upgraded kernel of the same version gets its own copy.
    """
    with open(kernel, "rb") as f:
        if not is_bzimage(f.read(0x210)):
            return kernel
    st = kernel.stat()
    key = hashlib.sha256(f"{kernel.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return vmlinux_file(kernel, shared_cache() / "xen" / f"vmlinux-{kernel.name.removeprefix('vmlinuz-')}-{key}")


class XenData(MachineData, total=False):
    """Xen domains: the disk's source image, the vifs' MACs, the PV kernel and ramdisk used and where the kernel came from."""

    base_image: str
    macs: list
    kernel: str
    kernel_source: str
    ramdisk: str


class XenDriver(CopySnapshots, Driver):
    """Xen PV guests through the xl toolstack, from a dom0."""

    name = "xen"
    priority = 40
    mac_prefix = "00:16:3e"
    data_model = XenData
    # snapshots: copies of the stopped domain's raw disk (xl has no snapshot command; a running PV guest's disk
    # is not copied consistently without pausing it, untested here: refused)
    capabilities = Capabilities(console=True, graceful_stop=True, autostart=True, vm=True, snapshot=True)
    description = "Xen PV guests (xl toolstack, run from dom0)"

    # commands
    @staticmethod
    def xl() -> str:
        return which("xl") or "xl"

    def _xl(self, *args: str, timeout: float, check: bool = True) -> subprocess.CompletedProcess:
        """Run `xl ARGS`; with check, a failure raises XlFailed carrying xl's stderr."""
        proc = run([self.xl(), *args], check=False, timeout=timeout)
        if check and proc.returncode != 0:
            raise XlFailed(proc.args, proc.returncode, proc.stderr or proc.stdout or "")
        return proc

    def _cfg(self, machine: Machine) -> Path:
        return machine.dir / "xl.cfg"

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        xl, name = self.xl(), machine.name
        plans = {
            "create": [["cp", "--sparse=always", str(machine.data.get("base_image", "TEMPLATE/disk.ext4")),
                        str(machine.dir / "disk.img")]],
            "start": [[xl, "create", str(self._cfg(machine))]],
            "stop": [[xl, "shutdown", name], [xl, "domid", name], [xl, "destroy", name]],
            "kill": [[xl, "destroy", name]],
            "destroy": [],
            "state": [[xl, "list", "-l"], [xl, "list"]],
            "list": [[xl, "list", "-l"], [xl, "list"]],
        }
        if action not in plans:
            raise CreatureError(f"the xen driver has no plan for {action!r}")
        return plans[action]

    # probe
    def probe(self, host: HostFacts) -> Probe:
        checks = []
        try:
            caps = CAPABILITIES.read_text().split()
        except OSError:
            caps = None
        if caps is None:
            checks.append(Check(name="dom0", ok=False, reason=f"{CAPABILITIES} is missing: this kernel is not running on the Xen hypervisor"
                                " (or xenfs is not mounted on /proc/xen)"))
        elif "control_d" not in caps:
            checks.append(Check(name="dom0", ok=False, reason=f"{CAPABILITIES} lacks control_d: this is a Xen guest (domU), not dom0"))
        else:
            checks.append(Check(name="dom0", ok=True, reason=f"{CAPABILITIES} says control_d: this is the Xen dom0"))
        xl = which("xl")
        checks.append(Check(name="xl", ok=xl is not None,
                            reason=f"xl found at {xl}" if xl else "xl not found (install the Debian package xen-utils-4.17)"))
        checks.append(self._xenstored_check(dom0=caps is not None and "control_d" in caps))
        return Probe.of(self.name, checks)

    def _xenstored_check(self, dom0: bool) -> Check:
        reader = which("xenstore-read")
        if dom0 and reader:
            proc = run([reader, "domid"], check=False, timeout=5)
            if proc.returncode == 0:
                return Check(name="xenstored", ok=True, reason=f"xenstored answers (domid {proc.stdout.strip()})")
            return Check(name="xenstored", ok=False, reason=f"xenstored is not reachable: xenstore-read failed: {proc.stderr.strip()}")
        present = [str(p) for p in XENSTORED_SOCKETS if p.exists()]
        if present:
            return Check(name="xenstored", ok=True, reason=f"xenstored reachable through {present[0]}")
        return Check(name="xenstored", ok=False, reason="xenstored is not reachable: no " + ", ".join(str(p) for p in XENSTORED_SOCKETS)
                     + " (xenstored runs in dom0, started by xencommons)")

    # files
    @staticmethod
    def _boot_files(template: Template) -> tuple[Path, Path | None]:
        """(kernel, ramdisk) as the template or dom0's /boot give them."""
        if template.meta.get("kernel"):
            return Path(template.meta["kernel"]), Path(template.meta["initrd"]) if template.meta.get("initrd") else None
        return host_kernel()

    def _domain(self, machine: Machine, kernel: Path, ramdisk: Path | None) -> XlDomain:
        spec = machine.spec
        vifs = [XlVif(mac=nic.mac or derived_mac(self.mac_prefix, spec.name, i), bridge=nic.network or DEFAULT_BRIDGE)
                for i, nic in enumerate(spec.nics)]
        cmdline = f"root=/dev/xvda rw console=hvc0 net.ifnames=0 creature.hostname={spec.name}"
        return XlDomain(name=spec.name, kernel=pv_kernel(kernel), ramdisk=ramdisk, disk=machine.dir / "disk.img", memory=spec.memory,
                        vcpus=spec.cpus, cmdline=cmdline, vifs=vifs)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        kernel, ramdisk = self._boot_files(template)
        domain = self._domain(machine, kernel, ramdisk)
        base = disk_image(self.home, template)
        # a sparse raw copy: blkback serves it through a loop device, no QEMU needed in dom0
        run(["cp", "--sparse=always", str(base), str(staging / "disk.img")], timeout=600)
        (staging / "disk.img").chmod(0o600)
        write_private(staging / "xl.cfg", render(domain))
        return {"clone": "copy", "base_image": str(base), "macs": [v.mac for v in domain.vifs],
                "kernel": str(domain.kernel), "kernel_source": str(kernel),
                "ramdisk": str(domain.ramdisk) if domain.ramdisk else None}

    # lifecycle
    def _domid(self, machine: Machine) -> int | None:
        proc = self._xl("domid", machine.name, timeout=30, check=False)
        if proc.returncode != 0:
            return None
        try:
            return int(proc.stdout.strip())
        except ValueError:
            return None

    def _wait_gone(self, machine: Machine, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pause = 0.25
        while self._domid(machine) is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(pause)
            # each `xl domid` costs dom0 most of a second of CPU: back off rather than keep a vCPU busy polling
            pause = min(pause * 1.5, 1.0)
        return True

    def start(self, machine: Machine) -> None:
        if not self._wait_gone(machine, TEARDOWN_TIMEOUT):
            raise CreatureError(f"a Xen domain named {machine.name!r} still exists (shutting down or dying): try again, or kill it")
        self._restore_kernel(machine)
        self._xl("create", str(self._cfg(machine)), timeout=180)

    @staticmethod
    def _restore_kernel(machine: Machine) -> None:
        """Extract the vmlinux xl.cfg names again when the shared cache lost it (cleaned, or a fresh dom0 disk)."""
        kernel, source = Path(machine.data.get("kernel") or ""), machine.data.get("kernel_source")
        if source and kernel != Path(source) and Path(source).exists():
            vmlinux_file(Path(source), kernel)

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        if timeout > 0:
            proc = self._xl("shutdown", machine.name, timeout=60, check=False)
            if proc.returncode == 0 and self._wait_gone(machine, timeout):
                return StopResult(forced=False)
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        proc = self._xl("destroy", machine.name, timeout=60, check=False)
        if not self._wait_gone(machine, TEARDOWN_TIMEOUT):
            raise XlFailed(proc.args, proc.returncode, proc.stderr or f"domain {machine.name} still exists after xl destroy")

    def snapshot_paths(self, machine: Machine) -> list[Path]:
        return [machine.dir / "disk.img"]

    def destroy(self, machine: Machine) -> None:
        # a domain still shutting down holds the disk through a loop device: wait until Xen let go of it
        if not self._wait_gone(machine, TEARDOWN_TIMEOUT):
            self.kill(machine)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        domains = parse_list_long(self._xl("list", "-l", timeout=60).stdout)
        ours = [m for m in machines if m.name in domains]
        flags = parse_list_states(self._xl("list", timeout=60).stdout) if ours else {}
        return {m.name: state_of(flags.get(m.name, "r-----")) if m.name in domains else State.STOPPED for m in machines}

    def state(self, machine: Machine) -> State:
        return self.states([machine])[machine.name]

    def console_log(self, machine: Machine) -> Path:
        """Where xenconsoled (started with --log=guest) writes this guest's console."""
        return CONSOLE_LOGS / f"guest-{machine.name}.log"

    def console(self, machine: Machine) -> int:
        print("creature: attached to the console of", machine.name, "(Ctrl-] detaches)")
        return subprocess.call([self.xl(), "console", machine.name])
