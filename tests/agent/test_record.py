"""``@record`` behaves as the dataclasses it replaced, and the agent's device path no longer imports inspect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.record import FrozenError, field, fields, record, replace

ROOT = Path(__file__).resolve().parents[2]


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@record
class Bag:
    name: str
    items: list[int] = field(default_factory=list)


@record(frozen=True)
class Point3(Point):
    z: int = 0
    y: int = 5  # a new default for an inherited field keeps its place


@record(slots=True)
class Slotted:
    a: int
    b: str = "b"


def test_init_defaults_equality_hash_and_repr() -> None:
    p = Point(1)
    assert (p.x, p.y, p.tags) == (1, 0, ())
    assert p == Point(1, 0) and p != Point(2) and hash(p) == hash(Point(1))
    assert repr(p) == "Point(x=1, y=0, tags=())"
    assert Point(1) != (1, 0, ())  # not a tuple
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_frozen_records_refuse_assignment() -> None:
    with pytest.raises(FrozenError):
        Point(1).x = 2  # type: ignore[misc]


def test_default_factories_are_fresh_and_mutable_records_mutable() -> None:
    a, b = Bag("a"), Bag("b")
    a.items.append(1)
    assert b.items == [] and a.items == [1]
    a.name = "renamed"
    assert a.name == "renamed"
    with pytest.raises(TypeError):
        hash(a)  # mutable with eq: unhashable, as dataclasses makes it


def test_inheritance_fields_replace_and_slots() -> None:
    p = Point3(1)
    assert [f.name for f in fields(Point3)] == ["x", "y", "tags", "z"] and (p.y, p.z) == (5, 0)
    assert replace(p, z=3) == Point3(1, 5, (), 3)
    with pytest.raises(TypeError):
        replace(p, w=1)
    s = Slotted(1)
    assert not hasattr(s, "__dict__") and s == Slotted(1, "b")
    assert {f.name: f.type for f in fields(s)} == {"a": "int", "b": "str"}


def test_the_agent_without_dpi_imports_no_dataclasses_or_inspect() -> None:
    # msgspec and isal (the collector's fast paths, absent on a gateway) are hidden as there
    probe = (
        "import sys; sys.modules.update(msgspec=None, isal=None);"
        " import agent.cli, agent.runner, agent.publisher.paho_transport;"
        " from agent.samplers import build_samplers; build_samplers();"
        " print(sorted(m for m in ('dataclasses', 'inspect', 'ast', 'dis') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
