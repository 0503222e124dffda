"""The Ganeti lab: a real two-node Ganeti 3.0 cluster from Debian's packages, each node in namespaces of its own.

Used by the tests' `ganeti_lab` fixture (conftest.py) and runnable by hand:
`python3 tests/labs/ganeti/lab.py` brings a lab up, prints how to reach it, and tears it down on Enter.

Each node: a network namespace (its address on a bridge gntbr0 inside it), and a PID 1 in new uts,
mount and pid namespaces chrooted onto an overlay of the cached root (build-root.sh). The two
bridges are joined by a veth pair whose ends both live in the lab's namespaces: no host interface,
bridge, route, /etc/hosts or hostname is touched. The host reaches the cluster's RAPI through a
forwarder thread of this process: it listens on 127.0.0.1 and connects from inside the master's
network namespace (a thread's setns(2) moves only that thread). Teardown kills each node's PID 1
(the kernel then ends every process of that pid namespace, QEMU included) and deletes the namespaces.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from cached_build import cached_build  # noqa: E402 (tests/labs, beside this lab)

REPO = HERE.parents[2]
CLUSTER = ("cluster.gnt.test", "192.0.2.10")
NODES = (("node1.gnt.test", "192.0.2.11"), ("node2.gnt.test", "192.0.2.12"))
RAPI_PORT = 5080
RAPI_USER = "creature"
NODE_IMAGE_DIR = "/srv/ganeti/creature-images"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLONE_NEWNET = 0x40000000
# fake: Ganeti's control plane alone; kvm with kvm_flag=disabled: QEMU TCG guests. No kernel in the cluster's
# defaults: creature names the kernel and initramfs of each instance (hvparams) in the shared image folder.
INIT_ARGV = ["gnt-cluster", "init", "--enabled-hypervisors=kvm,fake", "--enabled-disk-templates=sharedfile,file",
             "--file-storage-dir=/srv/ganeti/file-storage", "--shared-file-storage-dir=/srv/ganeti/shared-file-storage",
             "--no-etc-hosts", "--no-ssh-init", "--master-netdev=gntbr0", "--nic-parameters=mode=bridged,link=gntbr0",
             # both nodes count this host's 2 cores: 4 vCPUs a core (the default) would stop hail at 16 instances,
             # and the listing test makes 50 (fake ones, which use no CPU)
             "--ipolicy-vcpu-ratio=32",
             "-H", "kvm:kvm_flag=disabled,kvm_path=/usr/bin/qemu-system-x86_64,kernel_path=,initrd_path=,"
                   "vnc_bind_address=,serial_console=true",
             CLUSTER[0]]


class LabError(Exception):
    """The lab could not be built or brought up."""


def run(argv: list[str], timeout: float = 120, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc


def build_root(log: Path) -> Path:
    """Run build-root.sh (a no-op when the cache holds this root) and return the lab folder (root/ inside)."""
    return cached_build(HERE / "build-root.sh", log, LabError)


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


@dataclass
class Node:
    """One node: its network namespace, its state folder and its PID 1 (pinned by pid and start time)."""

    name: str
    ip: str
    netns: str
    dir: Path
    unshare: subprocess.Popen | None = None
    init_pid: int | None = None
    init_start: int | None = None

    def alive(self) -> bool:
        return self.init_pid is not None and _start_time(self.init_pid) == self.init_start


class Forwarder:
    """127.0.0.1:port here -> host:port inside a network namespace, by threads of this process; counts connections."""

    def __init__(self, netns: str, target: tuple[str, int]):
        self.netns, self.target = netns, target
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._error: str | None = None
        entered = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(entered,), name=f"forward-{netns}", daemon=True)
        self._thread.start()
        entered.wait(5)
        if self._error:
            raise LabError(self._error)

    def _serve(self, entered: threading.Event) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:  # this thread only: the rest of the process stays where it was
                self._error = f"setns into {self.netns}: {os.strerror(ctypes.get_errno())}"
        finally:
            os.close(fd)
            entered.set()
        if self._error:
            return
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed: the lab is going down
            self.connections += 1
            try:
                upstream = socket.create_connection(self.target, timeout=10)  # made in the namespace: this thread is there
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class GanetiLab:
    """A cluster of `nodes` nodes built into run_dir; up() brings it up, down() removes every trace of it."""

    run_dir: Path
    nodes_wanted: int = 2
    nodes: list[Node] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    forwarder: Forwarder | None = None
    password: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    ca_cert: bytes = b""
    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}")

    @property
    def shared_dir(self) -> Path:
        return self.run_dir / "shared"

    @property
    def image_dir(self) -> Path:
        """The folder creature writes template images and boot files to; the nodes see it at NODE_IMAGE_DIR."""
        return self.run_dir / "images"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.forwarder.port}"

    # bring up
    def up(self) -> None:
        t0 = time.monotonic()
        lab = build_root(self.run_dir / "build.log")
        self.timings["root build (a look-up when cached)"] = time.monotonic() - t0
        t1 = time.monotonic()
        for sub in ("shared", "images", "os"):
            (self.run_dir / sub).mkdir(mode=0o755)
        sys.path.insert(0, str(REPO / "plugins" / "creature-ganeti" / "src"))
        from creature_ganeti.os_definition import write

        write(self.run_dir / "os")  # from this checkout: the cached root never needs rebuilding for it
        for index, (name, ip) in enumerate(NODES[: self.nodes_wanted], start=1):
            self._node_up(lab / "root", index, name, ip)
        for other in self.nodes[1:]:
            self._link(self.nodes[0], other)
        self.timings["nodes up"] = time.monotonic() - t1
        t2 = time.monotonic()
        master = self.nodes[0]
        self.node_run(master, INIT_ARGV, timeout=300)
        # RAPI users file, plain-text form. The daemon reads it at once, and again on each write: it must be the
        # daemon's to read before the password goes in (the password on stdin, never in an argv)
        users = "/var/lib/ganeti/rapi/users"
        self.node_run(master, ["sh", "-c", f"install -m 0640 -o gnt-rapi -g gnt-masterd /dev/null {users} && read -r pw && "
                               f"printf '%s %s write\\n' {RAPI_USER} \"$pw\" > {users}"], input=self.password + "\n")
        self.timings["gnt-cluster init"] = time.monotonic() - t2
        t3 = time.monotonic()
        for node in self.nodes[1:]:
            self.node_run(master, ["gnt-node", "add", "--no-ssh-key-check", node.name], timeout=300)
        self.timings["gnt-node add"] = time.monotonic() - t3
        self.forwarder = Forwarder(master.netns, (CLUSTER[1], RAPI_PORT))
        pem = Path(f"/proc/{master.init_pid}/root/var/lib/ganeti/rapi.pem").read_bytes()
        start = pem.index(b"-----BEGIN CERTIFICATE-----")
        self.ca_cert = pem[start: pem.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----")] + b"\n"
        t4 = time.monotonic()
        self._wait_rapi()
        # hail refuses to place on a cluster that would not survive a node's loss (N+1); these nodes share one host's
        # memory, so the check says nothing here: off, as the Ganeti lab notes found (the CLI form is rejected by hail)
        self.rapi().run("PUT", "/2/modify", {"default_iallocator_params": {"no-capacity-checks": None}})
        self.timings["RAPI ready"] = time.monotonic() - t4
        self.timings["lab up"] = time.monotonic() - t0

    def _node_up(self, root: Path, index: int, name: str, ip: str) -> Node:
        netns = f"crt-gnt{self.tag}-{index}"
        node = Node(name, ip, netns, self.run_dir / f"node{index}")
        for sub in ("upper", "work", "merged"):
            (node.dir / sub).mkdir(parents=True)
        run(["ip", "netns", "add", netns])
        self.nodes.append(node)  # from here on down() removes it, whatever fails next
        batch = ["link set lo up", "link add gntbr0 type bridge forward_delay 0",
                 # no dummy netdev in this kernel: a veth pair with both ends here gives the bridge its carrier
                 "link add gntv0 type veth peer name gntv0p", "link set gntv0 master gntbr0", "link set gntv0 up",
                 "link set gntv0p up", f"addr add {ip}/24 dev gntbr0", "link set gntbr0 up"]
        run(["ip", "-n", netns, "-batch", "-"], input="\n".join(batch) + "\n")
        log = open(node.dir / "init.log", "w")
        node.unshare = subprocess.Popen(
            ["ip", "netns", "exec", netns, "unshare", "--uts", "--mount", "--pid", "--fork", "--propagation", "private",
             "bash", str(HERE / "node-init.sh"), str(root), str(node.dir), name, str(self.shared_dir),
             str(self.image_dir), str(self.run_dir / "os")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            init = self._init_of(node)
            if init is not None:
                node.init_pid, node.init_start = init, _start_time(init)
                break
            if node.unshare.poll() is not None:
                break
            time.sleep(0.05)
        if node.init_pid is None:
            raise LabError(f"node {name} did not come up: {(node.dir / 'init.log').read_text(errors='replace')[-2000:]}")
        self.node_run(node, ["/usr/sbin/sshd"])  # for `gnt-node add` and cluster verify: port 22 in the lab only
        return node

    @staticmethod
    def _init_of(node: Node) -> int | None:
        """The node's PID 1 (seen from here): the child of our unshare whose root is the node's overlay."""
        try:
            children = Path(f"/proc/{node.unshare.pid}/task/{node.unshare.pid}/children").read_text().split()
        except OSError:
            return None
        for pid in map(int, children):
            try:
                if os.readlink(f"/proc/{pid}/root") == str(node.dir / "merged"):
                    return pid
            except OSError:
                continue
        return None

    def _link(self, a: Node, b: Node) -> None:
        pair = f"gx{self.tag[-4:]}{b.name[4]}"
        run(["ip", "link", "add", f"{pair}a", "netns", a.netns, "type", "veth", "peer", "name", f"{pair}b", "netns", b.netns])
        for node, end in ((a, f"{pair}a"), (b, f"{pair}b")):
            run(["ip", "-n", node.netns, "-batch", "-"], input=f"link set {end} master gntbr0\nlink set {end} up\n")

    def _wait_rapi(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.rapi().request("GET", "/2/info")
                return
            except Exception as exc:  # not up yet: refused, or the users file not read yet
                if time.monotonic() > deadline:
                    raise LabError(f"the RAPI did not answer within {timeout:g} s: {exc}") from None
                time.sleep(0.2)

    # use
    def node_run(self, node: Node | int, argv: list[str], timeout: float = 120, check: bool = True,
                 input: str | None = None) -> subprocess.CompletedProcess:
        """Run argv on a node (all its namespaces and its root), with a clean environment."""
        node = self.nodes[node] if isinstance(node, int) else node
        if not node.alive():
            raise LabError(f"node {node.name} is not running")
        return run(["nsenter", "-t", str(node.init_pid), "-n", "-u", "-m", "-p", "-r", "-w",
                    "env", "-i", f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8", *argv], timeout=timeout, check=check, input=input)

    def instances(self) -> list[str]:
        """The cluster's instances as Ganeti's own CLI lists them (independent of creature)."""
        out = self.node_run(0, ["gnt-instance", "list", "--no-headers", "-o", "name"]).stdout
        return sorted(out.split())

    def rapi(self):
        from creature_ganeti.rapi import Rapi

        return Rapi(self.url, RAPI_USER, self.password, self.ca_cert)

    # tear down
    def down(self) -> None:
        """Stop everything the lab started (by PID), delete its namespaces, remove its run folder's nodes."""
        t0 = time.monotonic()
        if self.forwarder is not None:
            self.forwarder.close()
        for node in reversed(self.nodes):
            if node.alive():
                self.node_run(node, ["/usr/lib/ganeti/daemon-util", "stop-all"], timeout=60, check=False)
                if node.alive():
                    os.kill(node.init_pid, signal.SIGKILL)  # PID 1 of the node: the kernel ends everything inside
            if node.unshare is not None:
                try:
                    node.unshare.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    node.unshare.kill()
                    node.unshare.wait()
            run(["ip", "netns", "del", node.netns], check=False)
        self.nodes.clear()
        self.timings["teardown"] = time.monotonic() - t0

    def report(self) -> str:
        return ", ".join(f"{what} {seconds:.1f} s" for what, seconds in self.timings.items())


def main() -> int:
    run_dir = Path(tempfile.mkdtemp(prefix="ganeti-lab."))
    lab = GanetiLab(run_dir)
    try:
        lab.up()
        print(lab.report())
        ca = run_dir / "rapi-ca.pem"
        ca.write_bytes(lab.ca_cert)
        password = run_dir / "rapi-password"
        password.write_text(lab.password + "\n")
        password.chmod(0o600)
        print(f"creature host add lab --driver ganeti {lab.url} --user {RAPI_USER} --password-file {password} "
              f"--ca-cert {ca} --option image_dir={lab.image_dir} --option node_image_dir={NODE_IMAGE_DIR}")
        input("Enter tears the lab down: ")
        return 0
    finally:
        lab.down()
        print(lab.report())
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
