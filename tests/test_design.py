"""The shape the design promises: a small kernel, every hook implemented, plugins behind the SDK, no import circles,
no pydantic on the everyday commands."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core" / "src" / "creature"
KERNEL_LIMIT = 3000
MODULE_LIMIT = 400


def _modules() -> dict[str, Path]:
    """Every module of the creature package by dotted name."""
    found = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _kernel(name: str) -> bool:
    return not name.startswith(("creature.builtin", "creature.testing"))


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_kernel_is_small_and_no_module_is_large():
    modules = _modules()
    kernel = {name: _lines(path) for name, path in modules.items() if _kernel(name)}
    assert sum(kernel.values()) <= KERNEL_LIMIT, f"the kernel has {sum(kernel.values())} lines: {sorted(kernel.items(), key=lambda i: -i[1])[:8]}"
    large = {name: _lines(path) for name, path in modules.items() if _lines(path) > MODULE_LIMIT}
    assert not large, f"modules over {MODULE_LIMIT} lines: {large}"


def _imports(path: Path, package: str) -> set[str]:
    """creature modules path imports anywhere (in functions too), except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for child in node.body for n in ast.walk(child)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("creature")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("creature"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from creature import names`
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            found.add(f"{base}.{node.module}" if node.module else base)
    return found


def test_no_import_circles_among_core_modules():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        # a module's own packages are initialised before it runs: importing from them is no circle
        graph[name] = {m for m in _imports(path, package) if m in modules and m != name and not name.startswith(m + ".")}
    # an import of a.b.c also runs a and a.b (a package's __init__ is a module too), unless the importer is inside them
    for name in list(graph):
        for target in list(graph[name]):
            parts = target.split(".")
            parents = {".".join(parts[:i]) for i in range(2, len(parts))}
            graph[name] |= {p for p in parents if p in modules and not (name == p or name.startswith(p + "."))}
    seen, stack, cycle = set(), [], []

    def visit(node):
        if cycle:
            return
        if node in stack:
            cycle.extend(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()

    for node in sorted(graph):
        visit(node)
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_every_hookspec_has_an_implementation():
    from creature import hookspecs
    from creature.plugins import Plugins

    specs = sorted(n for n in vars(hookspecs) if n.startswith("creature_"))
    plugins = Plugins()
    plugins.load_all()
    missing = [spec for spec in specs if not getattr(plugins.pm.hook, spec).get_hookimpls()]
    assert not missing, f"hookspecs nobody implements: {missing}"
    builtin = {spec for spec in specs
               if any(impl.plugin_name.startswith("creature.builtin") for impl in getattr(plugins.pm.hook, spec).get_hookimpls())}
    assert builtin >= set(specs) - {"creature_register_drivers"}, "creature's own features implement the hooks they use"


def test_plugins_import_only_the_sdk():
    bad = []
    for src in sorted((ROOT / "plugins").glob("creature-*/src/*")):
        own = src.name
        for path in src.rglob("*.py"):
            for module in _imports(path, own):
                if module.startswith("creature.") and not module.startswith("creature.sdk"):
                    bad.append(f"{path.relative_to(ROOT)} imports {module}")
        for path in (src.parent.parent / "tests").rglob("*.py"):
            for module in _imports(path, "tests"):
                if module.startswith("creature.") and not module.startswith(("creature.sdk", "creature.testing")):
                    bad.append(f"{path.relative_to(ROOT)} imports {module}")
    others = {p.name for p in (ROOT / "plugins").glob("creature-*/src/*")}
    for src in sorted((ROOT / "plugins").glob("creature-*/src/*")):
        for path in src.rglob("*.py"):
            text = path.read_text()
            bad += [f"{path.relative_to(ROOT)} imports {o}" for o in others - {src.name} if f"import {o}" in text or f"from {o}" in text]
    assert not bad, "\n".join(bad)


def test_every_sdk_name_resolves():
    import creature.sdk as sdk

    for name in sdk.__all__:
        assert getattr(sdk, name) is not None, name


@pytest.fixture
def lxc_machine(lxc_usable):
    api = lxc_usable
    api.templates.build("bb", "busybox")
    api.create({"name": "lean", "driver": "lxc", "template": "bb"})
    return api


def _imported(home: Path, *argv: str) -> tuple[int, set[str], str]:
    """(exit code, the top-level packages imported, stderr without the import lines) of one command."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "creature", "--home", str(home), *argv],
                          capture_output=True, text=True, timeout=120)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    errors = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    return proc.returncode, {m.split(".")[0] for m in modules}, errors


def test_everyday_commands_import_only_what_they_need(lxc_machine):
    """Stored machines are read without validating them again: start, stop, kill, show and list import no pydantic,
    nor dataclasses (creature.records); start, stop and kill of a machine without NICs not pluggy either (no plugin here
    acts on those events; show and list of a running machine ask the address hook)."""
    home = lxc_machine.home.root
    try:
        for argv in (["start", "lean"], ["show", "lean"], ["list"], ["stop", "lean", "--timeout", "10"], ["start", "lean"],
                     ["kill", "lean"], ["list"]):
            code, packages, errors = _imported(home, *argv)
            assert code == 0, f"creature {' '.join(argv)}: {errors}"
            heavy = packages & {"pydantic", "dataclasses", "click", *(("pluggy", "inspect") if argv[0] not in ("show", "list") else ())}
            assert not heavy, f"creature {' '.join(argv)} imported {sorted(heavy)}"
    finally:
        lxc_machine.destroy("lean", force=True)
    # the input boundary does validate
    code, packages, errors = _imported(home, "create", "other", "--driver", "lxc", "--template", "bb")
    assert code == 0 and "pydantic" in packages, errors
