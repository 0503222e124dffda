"""bench/ needs only creature's runtime dependencies, and bench/peers.py says in one line why it is skipped."""

import ast
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
TEST_TOOLS = ("pytest", "_pytest", "creature.testing")

# Imports every bench module (as bench/run's scripts see them) with the test tools made unimportable.
BLOCKED_IMPORT = """
import importlib.util, sys
from pathlib import Path

class NoTestTools:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest") or name == "creature.testing":
            raise ImportError(f"test tool {name} imported")

sys.meta_path.insert(0, NoTestTools())
bench = Path(sys.argv[1])
sys.path.insert(0, str(bench))
for script in sorted(bench.glob("*.py")):
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(script.stem)
"""


def bench_sources() -> list[Path]:
    return [*sorted(BENCH.glob("*.py")), BENCH / "run"]


def test_no_bench_source_imports_a_test_tool_anywhere():
    # also imports inside functions (wait_ip.py once imported creature.testing in a finally: block)
    found = []
    for source in bench_sources():
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{source.name}:{node.lineno} {n}" for n in names if n == "creature.testing" or n.split(".")[0] in TEST_TOOLS]
    assert len(bench_sources()) > 5
    assert found == []


def test_bench_modules_import_without_the_test_tools():
    proc = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT, str(BENCH)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = set(proc.stdout.split())
    assert {"benchlib", "peerlib", "peers", "wait_ip", "cli_speed"} <= imported


def test_peers_skips_in_one_line_without_lxd():
    # PATH without /usr/bin: creature.procs.which then finds no lxd (it adds only the sbin folders)
    proc = subprocess.run([sys.executable, str(BENCH / "peers.py")], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PATH="/nonexistent"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("peers: skipped: ")
    assert "make bench-peers" in lines[0] if os.geteuid() == 0 else "root" in lines[0]


def test_peers_refuses_a_count_below_one():
    proc = subprocess.run([sys.executable, str(BENCH / "peers.py"), "--rounds", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "at least 1" in proc.stderr
    assert proc.stdout == ""
