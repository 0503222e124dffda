"""PlannedDriver runs its own plans through creature.procs.run: real commands here, a fake hypervisor in a folder."""

import sys
from pathlib import Path

import pytest
from creature.builtin.support.planned import PlannedDriver, links_to, path_check, stable_id, tool, tool_check
from creature.errors import CommandFailed, CreatureError
from creature.records import Machine, MachineSpec
from creature.state import State

# each command appends its word to the log and may write the machine's new state; FAIL exits 1 with a message on stderr
STEP = "import sys; w, folder, state = sys.argv[1:4]; open(folder + '/log', 'a').write(w + '\\n'); state and open(folder + '/state', 'w').write(state)"
FAIL = "import sys; sys.exit(sys.argv[1] + ' refused')"


class Fakevisor(PlannedDriver):
    name = "fakevisor"
    timeouts = {"start": 30, "kill": 30}

    def __init__(self, folder: Path, registered: bool = True, stop_works: bool = True, kill_works: bool = True):
        super().__init__(home=None)
        self.folder, self.known, self.stop_works, self.kill_works = folder, registered, stop_works, kill_works

    def _step(self, word: str, state: str = "") -> list[str]:
        return [sys.executable, "-c", STEP, word, str(self.folder), state]

    def plans(self, machine):
        fail = [sys.executable, "-c", FAIL]
        return {
            "create": [self._step("register")],
            "start": [self._step("start", "running")],
            "stop": [self._step("stop", "stopped") if self.stop_works else [*fail, "stop"], self._step("kill", "stopped")],
            "kill": [self._step("kill", "stopped") if self.kill_works else [*fail, "kill"]],
            "destroy": [self._step("unregister")],
        }

    def registered(self, machine):
        return self.known

    def state(self, machine):
        return State((self.folder / "state").read_text()) if (self.folder / "state").exists() else State.STOPPED

    def log(self) -> list[str]:
        return (self.folder / "log").read_text().split() if (self.folder / "log").exists() else []


@pytest.fixture
def machine(tmp_path):
    return Machine(spec=MachineSpec.parse({"name": "web", "driver": "fakevisor", "template": "bb"}), dir=tmp_path / "web")


def test_start_registers_only_an_unknown_machine(tmp_path, machine):
    driver = Fakevisor(tmp_path, registered=False)
    driver.start(machine)
    assert driver.log() == ["register", "start"] and driver.state(machine) == State.RUNNING
    known = Fakevisor(tmp_path / "known")
    (tmp_path / "known").mkdir()
    known.start(machine)
    assert known.log() == ["start"]


def test_stop_is_graceful_when_the_request_works(tmp_path, machine):
    driver = Fakevisor(tmp_path)
    driver.start(machine)
    assert driver.stop(machine, timeout=10).forced is False
    assert driver.log() == ["start", "stop"] and driver.state(machine) == State.STOPPED


def test_stop_kills_when_the_request_fails_or_there_is_no_time(tmp_path, machine):
    driver = Fakevisor(tmp_path, stop_works=False)
    driver.start(machine)
    assert driver.stop(machine, timeout=10).forced is True
    assert driver.log() == ["start", "kill"]
    (tmp_path / "log").unlink()
    assert Fakevisor(tmp_path).stop(machine, timeout=0).forced is True
    assert driver.log() == ["kill"]


def test_a_failing_command_raises_with_its_stderr(tmp_path, machine):
    with pytest.raises(CommandFailed) as failed:
        Fakevisor(tmp_path, kill_works=False).kill(machine)
    assert "kill refused" in failed.value.stderr and "kill refused" in str(failed.value)


def test_destroy_unregisters_only_a_known_machine(tmp_path, machine):
    Fakevisor(tmp_path, registered=False).destroy(machine)
    assert Fakevisor(tmp_path).log() == []
    Fakevisor(tmp_path).destroy(machine)
    assert Fakevisor(tmp_path).log() == ["unregister"]


def test_an_action_without_a_plan_is_refused(tmp_path, machine):
    with pytest.raises(CreatureError, match="the fakevisor driver has no plan for 'pause'"):
        Fakevisor(tmp_path).plan(machine, "pause")


def test_probe_checks_and_helpers(tmp_path):
    assert tool_check("py", Path(sys.executable).name, "python missing").ok
    missing = tool_check("t", "no-such-tool-here", "no-such-tool-here not found (install it)")
    assert (missing.ok, missing.reason) == (False, "no-such-tool-here not found (install it)")
    assert tool("no-such-tool-here") == "no-such-tool-here"
    assert path_check("k", tmp_path, "here", "gone").reason == f"{tmp_path} present: here"
    assert path_check("k", tmp_path / "x", "here", "gone").reason == f"{tmp_path / 'x'} is missing: gone"
    (tmp_path / "target").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert links_to(tmp_path / "link", tmp_path / "target") and not links_to(tmp_path / "target", tmp_path / "target")
    assert all(2 <= stable_id(f"m{i}", 2, 49151) <= 49151 for i in range(1000))
    assert stable_id("web", 2, 49151) == stable_id("web", 2, 49151)
