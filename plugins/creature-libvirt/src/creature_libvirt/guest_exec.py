"""exec in libvirt guests: the guest agent through libvirt's agent API (QEMU), the container's namespaces (LXC).

QEMU domains have a virtio-serial channel named org.qemu.guest_agent.0, which libvirt itself connects to;
qemuAgentCommand passes creature's guest-exec requests through it (to the guest's qemu-ga, or to the agent
creature's initramfs starts), so it works over remote URIs too. LXC domains have no agent: libvirt hands out
the container's namespaces as file descriptors (lxcOpenNamespace, local daemons only), a child of creature
enters them and runs the command with creature's own stdin, stdout and stderr, as lxc-attach does.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

from creature.sdk import AgentUnavailable, CreatureError, agent_result, children

GUEST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "TERM": "xterm"}


class AgentChannel:
    """qemu-ga's protocol through libvirt (libvirt_qemu.qemuAgentCommand), for creature.sdk.guest_exec."""

    def __init__(self, connection, domain, name: str):
        self.connection = connection
        self.domain = domain
        self.name = name

    def command(self, request: dict, timeout: float = 15):
        import libvirt
        import libvirt_qemu

        from creature_libvirt.connection import translate

        self.connection.calls["qemuAgentCommand"] += 1
        try:
            reply = libvirt_qemu.qemuAgentCommand(self.domain, json.dumps(request), max(1, int(timeout)), 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_AGENT_UNRESPONSIVE:
                # libvirt's own guest-sync found no agent (not connected yet): the request was not run
                raise AgentUnavailable(f"no guest agent answers in {self.name!r}: {exc.get_error_message()}") from None
            raise translate(exc, self.connection.uri, request["execute"]) from None
        return agent_result(json.loads(reply), request["execute"])


def _setns(fds: list[int]) -> None:
    """Enter the namespaces fds name (the user namespace only when it is not ours already)."""
    libc = ctypes.CDLL(None, use_errno=True)
    own_user = os.stat("/proc/self/ns/user").st_ino
    for fd in fds:
        if os.readlink(f"/proc/self/fd/{fd}").startswith("user:") and os.fstat(fd).st_ino == own_user:
            continue
        if libc.setns(fd, 0) != 0:
            kind = os.readlink(f"/proc/self/fd/{fd}").partition(":")[0]
            raise OSError(ctypes.get_errno(), f"setns({kind}) failed")


def _cgroup_mounts() -> list[tuple[str, set[str]]]:
    """(mount point, its options) of each cgroup hierarchy mounted here; cgroup2's options are {"0"}."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            if len(fields) >= 3 and fields[0] in ("cgroup", "cgroup2"):
                mounts.append((left.split()[4], {"0"} if fields[0] == "cgroup2" else set(fields[2].split(","))))
    return mounts


def cgroup_procs(pid: int) -> list[str]:
    """The cgroup.procs file of each hierarchy pid belongs to (v1 controllers and the unified one), as this host mounts them."""
    mounts, files = _cgroup_mounts(), []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hierarchy, controllers, path = line.rstrip("\n").split(":", 2)
            wanted = {"0"} if hierarchy == "0" else set(controllers.split(","))
            where = next((m for m, options in mounts if wanted <= options), None)
            if where is not None and wanted != {""}:
                files.append(os.path.join(where, path.lstrip("/"), "cgroup.procs"))
    return files


def lxc_exec(connection, domain, name: str, argv: list[str]) -> int:
    """Run argv inside the container with the caller's stdio; its exit status (126/127: it could not run)."""
    import libvirt_lxc

    connection.calls["lxcOpenNamespace"] += 1
    try:
        fds = libvirt_lxc.lxcOpenNamespace(domain, 0)
    except Exception as exc:
        raise CreatureError(f"cannot enter the namespaces of {name!r} (exec needs a local libvirt daemon): {exc}") from None
    # the command joins the container's cgroups too, as lxc-attach does: else it escapes its CPU and memory limits
    # (and `stats` never sees it). The domain ID is the libvirt_lxc controller's pid; its child is the container's init.
    inits = children(connection.call("ID", target=domain))
    try:
        groups = cgroup_procs(inits[0]) if inits else []
    except OSError:
        groups = []
    if not groups:
        for fd in fds:
            os.close(fd)
        raise CreatureError(f"cannot find the cgroups of {name!r}'s init (exec needs a local libvirt daemon)")
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            code = 126
            try:
                for procs in groups:  # before setns: the host's cgroup mounts
                    with open(procs, "w") as f:
                        f.write(str(os.getpid()))
                _setns(fds)
                # the pid namespace takes effect for children: the command is a grandchild
                inner = os.fork()
                if inner == 0:
                    os.chdir("/")
                    code = 127
                    os.execvpe(argv[0], argv, GUEST_ENV)
                code = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
                code = 128 - code if code < 0 else code
            except OSError as exc:
                os.write(2, f"creature: error: {argv[0]}: {exc.strerror or exc}\n".encode())
            os._exit(code)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        return 128 - status if status < 0 else status
    finally:
        for fd in fds:
            os.close(fd)
