"""creature.records.Record behaves as the dataclasses it replaced: fields, defaults, frozen, kw_only, repr, compare."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from creature.records import Address, FrozenRecordError, Machine, MachineInfo, MachineSpec, Nic, Record, TemplateMeta, field
from creature.state import State


class Point(Record, frozen=True):
    """A frozen record for the tests."""

    x: int
    y: int = 0
    tags: list[str] = field(factory=list)
    secret: str | None = field(default=None, repr=False, compare=False)
    kind: ClassVar[str] = "point"


class Bag(Record):
    """A mutable one."""

    items: list[int] = field(factory=list)
    label: str = field(default="", kw_only=True)


def test_fields_defaults_and_factories():
    p = Point(1)
    assert (p.x, p.y, p.tags, p.secret) == (1, 0, [], None)
    assert Point.fields() == ("x", "y", "tags", "secret")  # a ClassVar is no field
    assert Point(1).tags is not Point(1).tags, "each record gets its own list"
    assert Point(1, 2, ["a"]).tags == ["a"] and Point(x=1, y=2).y == 2


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {}, "missing argument 'x'"),
    ((1, 2, [], None, 5), {}, "takes 4 positional arguments, 5 given"),
    ((1,), {"x": 2}, "unexpected or repeated argument 'x'"),
    ((1,), {"z": 2}, "unexpected or repeated argument 'z'"),
])
def test_wrong_arguments_are_type_errors(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_kw_only_fields_are_never_positional():
    with pytest.raises(TypeError, match="takes 1 positional arguments"):
        Bag([1], "x")
    assert Bag([1], label="x").label == "x"
    with pytest.raises(TypeError):
        Address(None, "10.0.0.2", "dhcp-lease")  # every field of Address is keyword-only, as before
    info = MachineInfo("m", "lxc", State.STOPPED, False, "bb", 1, 256)
    assert info.node is None and info.disk is None  # node is keyword-only in the middle of positional fields


def test_frozen_records_refuse_changes_and_hash():
    p = Point(1, secret="s")
    with pytest.raises(FrozenRecordError, match="cannot assign to field 'x'"):
        p.x = 2
    with pytest.raises(AttributeError):  # FrozenRecordError is an AttributeError, like dataclasses' own
        del p.y
    assert len({Nic("n", "52:54:00:00:00:01"), Nic("n", "52:54:00:00:00:01"), Nic("n")}) == 2
    assert hash(Address(ip="10.0.0.2", source="arp")) == hash(Address(ip="10.0.0.2", source="arp"))
    with pytest.raises(TypeError, match="unhashable type: 'list'"):  # as a frozen dataclass holding a list
        hash(Point(1))


def test_mutable_records_change_and_are_unhashable():
    bag = Bag()
    bag.items = [1]
    bag.label = "x"
    assert bag == Bag([1], label="x")
    with pytest.raises(TypeError, match="unhashable"):
        hash(bag)


def test_equality_compares_fields_of_the_same_class_only():
    assert Point(1, 2) == Point(1, 2, secret="ignored: compare=False")
    assert Point(1, 2) != Point(1, 3)
    assert Point(1) != Bag() and Point(1) != (1, 0, [], None)


def test_repr_leaves_out_repr_false_fields():
    assert repr(Point(1, secret="hunter2")) == "Point(x=1, y=0, tags=[])"
    machine = Machine(MachineSpec(name="m", template="bb"), Path("/m"), access="keys")
    assert "keys" not in repr(machine) and "MachineSpec(name='m'" in repr(machine)


def test_replace_makes_a_changed_copy():
    spec = MachineSpec(name="m", template="bb", nics=(Nic("n"),))
    bigger = spec.replace(cpus=4)
    assert (spec.cpus, bigger.cpus, bigger.nics, bigger.name) == (1, 4, (Nic("n"),), "m")
    with pytest.raises(TypeError, match="unexpected or repeated argument 'cores'"):
        spec.replace(cores=4)


def test_to_dict_is_plain_json():
    spec = MachineSpec(name="m", template="bb", nics=(Nic("n", "52:54:00:00:00:01"),), options={"k": "v"})
    assert spec.to_dict()["nics"] == [{"network": "n", "mac": "52:54:00:00:00:01", "ip": None}]
    info = MachineInfo("m", "lxc", State.RUNNING, False, "bb", 1, 256, addresses=[Address(ip="10.0.0.2", source="dhcp-lease")])
    data = info.to_dict()
    assert data["state"] == "running" and data["addresses"] == [{"mac": None, "ip": "10.0.0.2", "source": "dhcp-lease"}]
    assert "node" not in data  # MachineInfo's own rule still applies
    assert Machine(spec, Path("/m"), created=1.0).to_dict()["dir"] == "/m"
    meta = TemplateMeta.from_dict({"os": "debian", "flavour": "slim"})
    assert meta.to_dict() == {"os": "debian", "version": "", "flavour": "slim"} and meta["flavour"] == "slim"


def test_copies_and_pickles_keep_the_value():
    p = Point(1, 2, ["a"], secret="s")
    for twin in (copy.copy(p), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert twin == p and twin.secret == "s" and type(twin) is Point


def test_records_import_without_dataclasses():
    """The point of Record: the API and the records import neither dataclasses nor inspect."""
    code = "import sys, creature.api; print(sorted(m for m in ('dataclasses', 'inspect', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
