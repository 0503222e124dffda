"""The command lines the UML driver runs: linux.uml itself, uml_mconsole requests and the group kill."""

from __future__ import annotations

from pathlib import Path

from creature.errors import CreatureError
from creature.model import Machine
from creature.procs import which

UNIX_PATH_MAX = 108
CONSOLE_LINE = 1  # UML virtual console 1 is the guest's /dev/tty1


def tool(name: str, package: str) -> str:
    """Absolute path of a host tool, or an error naming the Debian package that has it."""
    path = which(name)
    if path is None:
        raise CreatureError(f"{name} is not installed (Debian package {package})")
    return path


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
    """linux.uml options for the machine's NICs.

    Networks come from creature's network layer: its creature_network_attach hook will make a tap device per
    NIC on the network's bridge, and each NIC then becomes `eth{i}=tuntap,{tap},{mac}` here.
    """
    if machine.spec.nics:
        raise CreatureError("creature-uml cannot attach NICs yet: creature networks are not available")
    return []


def boot_argv(machine: Machine, tmpdir: str) -> list[str]:
    """linux.uml booting the machine's copy-on-write disk, with TMPDIR set to a folder that allows exec mappings."""
    spec = machine.spec
    argv = [
        tool("env", "coreutils"), f"TMPDIR={tmpdir}",
        tool("linux.uml", "user-mode-linux"),
        f"umid={spec.name}", f"uml_dir={uml_dir(machine)}",
        f"ubd0={cow_file(machine)},{machine.data['image']}",
        f"mem={spec.memory}M", "root=/dev/ubda", "rw",
        # kernel and init messages go to stdout (the console log); tty1, where busybox and Debian templates
        # both run a getty, is a pty for `creature console`
        "con=null", "con0=null,fd:1", f"con{CONSOLE_LINE}=pts", "ssl=null",
        f"creature.hostname={spec.name}",
    ]
    init = machine.data.get("init")
    if init:
        argv.append(f"init={init}")
    return argv + nic_options(machine)


def exec_cmdline(argv: list[str]) -> str:
    """The command line UML runs under once env (the first two words of boot_argv) has exec'd it, as /proc shows it."""
    return " ".join(argv[2:])


def mconsole_argv(machine: Machine, *request: str) -> list[str]:
    """uml_mconsole sending one request (cad, halt, config ssl0, ...) to the machine's control socket."""
    return [tool("uml_mconsole", "uml-utilities"), str(mconsole_socket(machine)), *request]


def kill_argv(pgid: int, pids: list[int] = ()) -> list[str]:
    """SIGKILL to UML's whole process group (it forks a host process per guest address space), plus stray pids."""
    return [tool("kill", "procps"), "-s", "KILL", "--", f"-{pgid}", *(str(p) for p in pids)]
