"""The committed support matrix page is exactly what the generator makes from the installed drivers."""

import importlib.util
from pathlib import Path


def _generator():
    spec = importlib.util.spec_from_file_location("support_matrix_generate", Path(__file__).with_name("generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_page_matches_the_generator():
    from creature.plugins import get_plugins

    generate = _generator()
    registry = get_plugins().registry()
    expected = generate.render(registry)
    assert generate.PAGE.read_text() == expected, "docs/support-matrix.md is stale: run python docs/support-matrix/generate.py"
    for name, _entry in registry:
        assert f"| `{name}` |" in expected


def test_configuration_only_drivers_say_so():
    from creature.drivers import Capabilities, Driver
    from creature.registry import DriverRegistry

    class Fake(Driver):
        name = "fakevisor"
        capabilities = Capabilities(console=True, vm=True)

    registry = DriverRegistry()
    registry.register(Fake, "creature-fakevisor")
    page = _generator().render(registry)
    row = next(line for line in page.splitlines() if line.startswith("| `fakevisor` |"))
    assert "| VM |" in row and "configuration only" in row
