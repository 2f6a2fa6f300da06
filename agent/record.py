"""``@record``: the part of ``dataclasses`` the agent uses, without its import cost.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``): about
1.1 MiB of RSS on a 32-bit CPython (bench/agent.py), for a gateway agent that only needs
named fields, an ``__init__``, equality and a ``repr``. ``@record`` builds exactly those from
the class annotations; ``frozen=True`` refuses assignment and adds a hash, as dataclasses
does. ``field(default_factory=...)``, :func:`fields` and :func:`replace` cover the rest of
what the agent used. Type checkers treat it as a dataclass (``dataclass_transform``).
The collector and tests keep using ``dataclasses``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_MISSING: Any = object()


class Field(NamedTuple):
    """One field of a record: its name, its annotation (a string) and its default."""

    name: str
    type: str
    default: Any
    default_factory: Callable[[], Any] | None


class _Spec:
    def __init__(self, default: Any, default_factory: Callable[[], Any] | None) -> None:
        self.default = default
        self.default_factory = default_factory


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None) -> Any:
    """A field default made fresh for each instance (``default_factory``), as in dataclasses."""
    return _Spec(default, default_factory)


class FrozenError(AttributeError):
    """Assignment to a field of a frozen record."""


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, frozen: bool = False, slots: bool = False, eq: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(
    cls: type[T] | None = None, /, *, frozen: bool = False, slots: bool = False, eq: bool = True
) -> Any:
    """Give a class an ``__init__`` over its annotated fields, ``__eq__`` and ``__repr__``."""

    def wrap(klass: type[T]) -> type[T]:
        return _build(klass, frozen=frozen, slots=slots, eq=eq)

    return wrap if cls is None else wrap(cls)


def _build(cls: type[T], *, frozen: bool, slots: bool, eq: bool) -> type[T]:
    by_name: dict[str, Field] = {}  # a subclass may redeclare a field (a new default): same place
    for base in reversed(cls.__mro__[1:]):
        by_name.update((f.name, f) for f in getattr(base, "__record_fields__", ()))
    own: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - inspect is what we avoid
    for name, annotation in own.items():
        if str(annotation).startswith("ClassVar"):
            continue
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, _Spec):
            by_name[name] = Field(name, str(annotation), value.default, value.default_factory)
        else:
            by_name[name] = Field(name, str(annotation), value, None)
    specs = list(by_name.values())
    names = [f.name for f in specs]
    methods: dict[str, Any] = {
        "__record_fields__": tuple(specs),
        "__init__": _init(specs, frozen),
        "__repr__": _repr,
    }
    if eq:
        methods["__eq__"] = _eq
        methods["__hash__"] = _hash if frozen else None
    if frozen:
        methods["__setattr__"] = _refuse
        methods["__delattr__"] = _refuse
    if not slots:  # in place: the class keeps its identity (and zero-argument super() works)
        for name in names:
            if isinstance(cls.__dict__.get(name), _Spec):
                delattr(cls, name)
        for key, value in methods.items():
            setattr(cls, key, value)
        return cls
    # __slots__ only take effect in a new class; defaults live in __init__, not class attributes
    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__", *names)}
    namespace.update(methods)
    inherited = {n for b in cls.__mro__[1:] for n in getattr(b, "__slots__", ())}
    namespace["__slots__"] = tuple(n for n in names if n not in inherited)
    built: type[T] = type(cls.__name__, cls.__bases__, namespace)
    built.__qualname__ = cls.__qualname__
    return built


def _init(specs: list[Field], frozen: bool) -> Callable[..., None]:
    # Source built from the field names (plain identifiers from the class body) and compiled
    # once per class: as fast as a hand-written __init__, which a generic loop is not.
    params, body = [], []
    env: dict[str, Any] = {"_set": object.__setattr__}
    for i, f in enumerate(specs):
        if f.default_factory is not None:
            env[f"_factory{i}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            value = f"_factory{i}() if {f.name} is _MISSING else {f.name}"
        elif f.default is not _MISSING:
            env[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
            value = f.name
        else:
            if any(p.endswith(("_MISSING",)) or "=" in p for p in params):
                raise TypeError(f"non-default field {f.name!r} follows a field with a default")
            params.append(f.name)
            value = f.name
        body.append(f"    _set(self, {f.name!r}, {value})" if frozen else f"    self.{f.name} = {value}")
    env["_MISSING"] = _MISSING
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, env)  # the source is made of the class's own field names
    init: Callable[..., None] = env["__init__"]
    return init


def _values(obj: object) -> tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in type(obj).__record_fields__)  # type: ignore[attr-defined]


def _repr(self: object) -> str:
    parts = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in type(self).__record_fields__)  # type: ignore[attr-defined]
    return f"{type(self).__qualname__}({parts})"


def _eq(self: object, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: object) -> int:
    return hash(_values(self))


def _refuse(self: object, name: str, value: object = None) -> None:
    raise FrozenError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def fields(obj: object) -> tuple[Field, ...]:
    """The fields of a record class or instance, in declaration order."""
    cls = obj if isinstance(obj, type) else type(obj)
    found: tuple[Field, ...] = getattr(cls, "__record_fields__", ())
    if not found and not hasattr(cls, "__record_fields__"):
        raise TypeError(f"{cls.__name__} is not a record")
    return found


def replace(obj: T, **changes: Any) -> T:
    """A copy of a record with some fields changed."""
    known = {f.name for f in fields(obj)}
    unknown = set(changes) - known
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {', '.join(sorted(unknown))}")
    values = {name: getattr(obj, name) for name in known}
    values.update(changes)
    return type(obj)(**values)
