"""``shapes`` (what the agent builds) and ``models`` (what the collector checks) declare the same keys.

A field in ``shapes`` but not ``models`` is still accepted (a newer minor's field), but every
report carrying it leaves the closed fast way (~3x the triage cost) with no error: this test
is where that drift fails instead.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import BaseModel

from protocol import models, shapes

#: A field tree: name -> subtree; ``None`` is a leaf; ``{"*": t}`` a map with free keys.
Tree = dict[str, Any] | None


def shape_tree(tp: Any) -> Tree:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Annotated, NotRequired, Required):
        return shape_tree(args[0])
    if typing.is_typeddict(tp):
        return {name: shape_tree(t) for name, t in typing.get_type_hints(tp, include_extras=True).items()}
    if origin in (typing.Union, types.UnionType, list):
        return next((t for t in map(shape_tree, args) if t is not None), None)
    if origin is dict:
        if typing.get_origin(args[0]) is Literal:  # a map with fixed keys (an event batch's body)
            return {key: shape_tree(args[1]) for key in typing.get_args(args[0])}
        return {"*": shape_tree(args[1])}
    return None


def model_tree(tp: Any) -> Tree:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        return model_tree(args[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {name: model_tree(info.annotation) for name, info in tp.model_fields.items()}
    if origin in (typing.Union, types.UnionType, list):
        return next((t for t in map(model_tree, args) if t is not None), None)
    if origin is dict:
        return {"*": model_tree(args[1])}
    return None


def differences(shape: Tree, model: Tree, path: str = "") -> list[str]:
    if shape is None or model is None:
        return [] if shape is model else [f"{path or '.'}: a {'leaf' if shape is None else 'map'} in shapes"]
    out = [f"{path}.{k}: in shapes, not models" for k in sorted(shape.keys() - model.keys())]
    out += [f"{path}.{k}: in models, not shapes" for k in sorted(model.keys() - shape.keys())]
    for key in sorted(shape.keys() & model.keys()):
        out += differences(shape[key], model[key], f"{path}.{key}")
    return out


MESSAGES = ["Report", "EventBatch", "Status", "Ack", "Command"]


def test_every_message_kind_declares_the_same_keys_at_every_depth() -> None:
    found = {
        name: differences(shape_tree(getattr(shapes, name)), model_tree(getattr(models, name)), name)
        for name in MESSAGES
    }
    assert found == {name: [] for name in MESSAGES}


def test_every_part_has_its_twin_of_the_same_name() -> None:
    """Each TypedDict has the model of its name (and the reverse, but for the models' own
    helpers), so a reader finds one from the other."""
    typed = {n for n in dir(shapes) if typing.is_typeddict(getattr(shapes, n))}
    modelled = {
        n
        for n, c in vars(models).items()
        if isinstance(c, type) and issubclass(c, BaseModel) and c.__module__ == models.__name__
    }
    assert typed - modelled == set()
    assert modelled - typed == {"EventBody", "_Part", "_Envelope", "_Spooled"}


def test_a_field_added_to_one_side_only_is_named() -> None:
    class Extra(typing.TypedDict, total=False):
        mac: str
        flash_free_kib: int

    assert differences(shape_tree(Extra), model_tree(models.Station), "Station")[:1] == [
        "Station.flash_free_kib: in shapes, not models"
    ]
