"""creature's guest agent (busybox sh, creature.builtin.guest.agent) and the host's client (creature.builtin.guest.qga),
end to end on this host: the real agent script under the host's static busybox on a pty (a serial line, as a UML
guest's ttyS1 is), reached through the same pair of FIFOs a hypervisor would hold open."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import threading
import tty

import pytest
from creature.builtin.guest.agent import SCRIPT
from creature.builtin.guest.qga import AgentError, AgentUnavailable, FifoChannel, guest_exec

BUSYBOX = shutil.which("busybox")


class Line:
    """A serial line between the agent (on the pty's slave) and two FIFOs (fed from and to its master), like UML's ssl1."""

    def __init__(self, folder):
        self.channel = FifoChannel(folder / "agent", "test channel")
        self.channel.make()
        # held open read-write as the hypervisor holds them: no EOF, no ENXIO
        self.into = os.open(self.channel.to_guest, os.O_RDWR)
        self.out = os.open(self.channel.from_guest, os.O_RDWR)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.device = os.ttyname(slave)
        self.slave = slave
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _copy(self):
        while not self.stop.is_set():
            ready, _, _ = select.select([self.into, self.master], [], [], 0.1)
            if self.into in ready:
                os.write(self.master, os.read(self.into, 65536))
            if self.master in ready:
                try:
                    os.write(self.out, os.read(self.master, 65536))
                except OSError:
                    return

    def close(self):
        self.stop.set()
        self.thread.join()
        for fd in (self.into, self.out, self.master, self.slave):
            os.close(fd)


@pytest.fixture
def line(tmp_path):
    found = Line(tmp_path)
    yield found
    found.close()


@pytest.fixture
def agent(line, tmp_path):
    """The agent script on the line, run by busybox with only busybox's applets on its PATH (as in the initramfs)."""
    if BUSYBOX is None:
        pytest.skip("busybox is not installed (Debian package busybox-static)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    subprocess.run([BUSYBOX, "--install", "-s", str(bin_dir)], check=True)
    (tmp_path / "agent").write_text(SCRIPT)
    proc = subprocess.Popen([str(bin_dir / "sh"), str(tmp_path / "agent"), line.device, "/", str(tmp_path / "state")],
                            env={"PATH": str(bin_dir)}, stdin=subprocess.DEVNULL, start_new_session=True)
    yield line.channel
    os.killpg(proc.pid, 9)
    proc.wait()


def test_exec_status_output_and_input(agent, capfd):
    argv = ["sh", "-c", 'echo "$1"; cat; echo to-stderr >&2; exit 3', "sh", "ünï 'quoted' \"x\" \\ $HOME ☃ 😀"]
    assert guest_exec(agent, argv, stdin=b"from stdin\n") == 3
    out, err = capfd.readouterr()
    assert out == "ünï 'quoted' \"x\" \\ $HOME ☃ 😀\nfrom stdin\n" and err == "to-stderr\n"


def test_a_command_that_does_not_exist_is_127(agent, capfd):
    assert guest_exec(agent, ["no-such-command-anywhere"], stdin=b"") == 127
    assert "no-such-command-anywhere" in capfd.readouterr().err


def test_a_megabyte_each_way(agent, capfdbinary):
    data = os.urandom(1 << 20)
    assert guest_exec(agent, ["cat"], stdin=data) == 0
    assert capfdbinary.readouterr().out == data


def test_what_an_earlier_client_left_is_skipped(agent, line):
    # a request whose answer nobody read, and noise, wait in the FIFOs: the next client syncs past them
    os.write(line.into, b'{"execute": "guest-ping"}\nnot json at all\n')
    assert agent.command({"execute": "guest-ping"}) == {}
    assert agent.command({"execute": "guest-info"})["version"].startswith("creature-agent")


def test_libvirts_guest_sync_and_errors(agent, line):
    """libvirt sends guest-sync (no delimiter) before each command and skips replies that are not its own."""
    os.write(line.into, b'{"execute":"guest-sync", "arguments":{"id":1234567}}\n')
    reply = b""
    while b"1234567" not in reply:
        select.select([line.out], [], [], 5)
        reply += os.read(line.out, 4096)
    assert json.loads(reply.decode().strip().splitlines()[-1]) == {"return": 1234567}
    with pytest.raises(AgentError, match="does not know guest-shutdown"):
        agent.command({"execute": "guest-shutdown"})
    with pytest.raises(AgentError, match="Invalid parameter 'pid'"):
        agent.command({"execute": "guest-exec-status", "arguments": {"pid": 999}})
    # a pid that is not a number never reaches a path
    with pytest.raises(AgentError, match="Invalid parameter 'pid'"):
        agent.command({"execute": "guest-exec-status", "arguments": {"pid": "../../etc"}})
    started = agent.command({"execute": "guest-exec", "arguments": {"path": "true", "env": ["A=1", "bad name=2"]}})
    assert isinstance(started["pid"], int)


def test_no_agent_is_unavailable_and_nothing_runs(line):
    with pytest.raises(AgentUnavailable, match="no guest agent answered on the test channel"):
        guest_exec(line.channel, ["true"], wait=1, stdin=b"")


def test_no_hypervisor_is_unavailable(tmp_path):
    channel = FifoChannel(tmp_path / "agent", "test channel")
    channel.make()  # FIFOs nobody holds: the machine is not running
    with pytest.raises(AgentUnavailable, match="no test channel"):
        channel.command({"execute": "guest-ping"})
    assert oct(channel.to_guest.stat().st_mode & 0o777) == "0o600"


def test_base64_of_the_agents_replies_is_standard(agent, capfd):
    """The agent's out-data decodes with Python's base64 (busybox's base64 -w 0: no line breaks)."""
    started = agent.command({"execute": "guest-exec", "arguments": {"path": "seq", "arg": ["1", "2000"], "capture-output": True}})
    import time

    while not (status := agent.command({"execute": "guest-exec-status", "arguments": {"pid": started["pid"]}}))["exited"]:
        time.sleep(0.02)
    assert base64.b64decode(status["out-data"], validate=True).decode().split() == [str(n) for n in range(1, 2001)]


def test_make_replaces_what_is_not_a_fifo(tmp_path):
    """A plan run by hand before the first start opens the names with `<>`, which makes plain files of them."""
    channel = FifoChannel(tmp_path / "agent")
    channel.to_guest.write_text("")
    channel.make()
    import stat

    assert stat.S_ISFIFO(channel.to_guest.stat().st_mode) and stat.S_ISFIFO(channel.from_guest.stat().st_mode)
