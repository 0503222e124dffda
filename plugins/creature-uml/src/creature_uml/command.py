"""The command lines the UML driver runs: linux.uml itself, uml_mconsole requests and the group kill."""

from __future__ import annotations

from pathlib import Path

from creature.sdk import CreatureError, Machine, tap_name, which

UNIX_PATH_MAX = 108
MODULES_WORD = "creature.modules=/dev/ubdb"  # the second disk, ubd1r= (creature_uml.modules)
CONSOLE_LINE = 1  # UML virtual console 1 is the guest's /dev/tty1


def tool(name: str, package: str) -> str:
    """Absolute path of a host tool, or an error naming the Debian package that has it."""
    path = which(name)
    if path is None:
        raise CreatureError(f"{name} is not installed (Debian package {package})")
    return path


def wants_initramfs(machine: Machine) -> bool:
    """Whether the machine boots through creature's initramfs (decided at create: every template but busybox)."""
    return bool(machine.data.get("initramfs"))


def uml_dir(machine: Machine) -> Path:
    """UML's uml_dir: it keeps the umid folder (pid file, mconsole socket) inside the machine's folder."""
    return machine.dir / "uml"


def umid_dir(machine: Machine) -> Path:
    return uml_dir(machine) / machine.name


def mconsole_socket(machine: Machine) -> Path:
    return umid_dir(machine) / "mconsole"


def pid_file(machine: Machine) -> Path:
    return umid_dir(machine) / "pid"


def cow_file(machine: Machine) -> Path:
    return machine.dir / "disk.cow"


def console_log(machine: Machine) -> Path:
    return machine.dir / "console.log"


def check_socket_path(machine: Machine) -> None:
    """UML binds its mconsole socket below the machine's folder: refuse names that make it too long to bind."""
    length = len(str(mconsole_socket(machine)).encode())
    if length >= UNIX_PATH_MAX:
        raise CreatureError(
            f"the UML control socket {mconsole_socket(machine)} would be {length} bytes long, over the unix limit of"
            f" {UNIX_PATH_MAX - 1}: use a shorter machine name or a shorter --home"
        )


def nic_options(machine: Machine) -> list[str]:
    """linux.uml options for the machine's NICs: each a vector NIC on the tap the driver made on its bridge.

    UML 7 has only the vector driver (its guest devices are vecN; the older ethN=tuntap transport is gone,
    and 6.1 has both), so creature.ifname= words have the guest name them eth{i} like every other driver's
    guests. The tap keeps its own MAC; the guest's NIC gets the NIC's MAC from UML.
    """
    options = []
    for index, nic in enumerate(machine.spec.nics):
        if nic.network is None or nic.mac is None:
            raise CreatureError(f"machine {machine.name!r}: NIC {index} has no network or MAC (the core assigns both at create)")
        options += [f"vec{index}:transport=tap,ifname={tap_name(machine.name, index)},mac={nic.mac}",
                    f"creature.ifname=vec{index}:eth{index}"]
    return options


def boot_argv(machine: Machine, kernel: Path, tmpdir: str, prefix: list[str] = (), network: list[str] = (),
              initrd: Path | None = None, modules: Path | None = None) -> list[str]:
    """kernel (a linux.uml) booting the machine's copy-on-write disk, with TMPDIR set to a folder that allows exec mappings.

    prefix (creature.builtin.networks.networks.machine_netns) runs it in its NICs' bridge namespace, where their taps are;
    network: the guest's NIC configuration words (creature.builtin.networks.networks.guest_cmdline); initrd: creature's
    initramfs (creature_uml.initramfs), which writes those words and the hostname into the guest's disk;
    modules: the image of the kernel's modules (creature_uml.modules), which the initramfs mounts read-only.
    hostfs= names a folder that does not exist: without it a guest's root could mount any host file with
    the rights of the UML process, and a folder that exists would not stop it either (`..` walks out).
    """
    spec = machine.spec
    argv = [
        *prefix, tool("env", "coreutils"), f"TMPDIR={tmpdir}", str(kernel),
        f"umid={spec.name}", f"uml_dir={uml_dir(machine)}",
        f"ubd0={cow_file(machine)},{machine.data['image']}",
        f"mem={spec.memory}M", "root=/dev/ubda", "rw",
        # kernel and init messages go to stdout (the console log); tty1, where busybox and Debian templates
        # both run a getty, is a pty for `creature console`
        "con=null", "con0=null,fd:1", f"con{CONSOLE_LINE}=pts", "ssl=null",
        f"hostfs={no_hostfs(machine)}",
        f"creature.hostname={spec.name}",
    ]
    if initrd is not None:
        argv.append(f"initrd={initrd}")
    if modules is not None:
        argv += [f"ubd1r={modules}", MODULES_WORD]
    init = machine.data.get("init")
    if init:
        argv.append(f"init={init}")
    return argv + list(network) + nic_options(machine)


def no_hostfs(machine: Machine) -> Path:
    """A hostfs root that never exists (inside the machine's folder, which creature owns): every hostfs path fails."""
    return machine.dir / "no-hostfs"


def exec_cmdline(argv: list[str]) -> str:
    """The command line UML runs under once nsenter (if any) and env (TMPDIR=) have exec'd it, as /proc shows it."""
    start = next(i for i, word in enumerate(argv) if word.startswith("TMPDIR="))
    return " ".join(argv[start + 1:])


def mconsole_argv(machine: Machine, *request: str) -> list[str]:
    """uml_mconsole sending one request (cad, halt, config ssl0, ...) to the machine's control socket."""
    return [tool("uml_mconsole", "uml-utilities"), str(mconsole_socket(machine)), *request]


def kill_argv(pgid: int, pids: list[int] = ()) -> list[str]:
    """SIGKILL to UML's whole process group (it forks a host process per guest address space), plus stray pids."""
    return [tool("kill", "procps"), "-s", "KILL", "--", f"-{pgid}", *(str(p) for p in pids)]
