"""Keeps sampler output to the wire shapes of :mod:`protocol.shapes`.

Samplers build plain dicts; :func:`conform` drops any key the shape does not declare, so a
figure computed ahead of the protocol (listed in :data:`PENDING`) reaches the wire only once the
shape has the field, and a typo never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol import shapes

#: Figures the samplers compute that :mod:`protocol.shapes` does not carry yet, by shape name.
PENDING: dict[str, frozenset[str]] = {}


def keys_of(shape: type) -> frozenset[str]:
    """Every key a TypedDict declares."""
    required: frozenset[str] = getattr(shape, "__required_keys__", frozenset())
    optional: frozenset[str] = getattr(shape, "__optional_keys__", frozenset())
    return required | optional


def conform(shape: type, row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` without ``None`` values and without keys ``shape`` does not declare."""
    allowed = keys_of(shape)
    return {k: v for k, v in row.items() if k in allowed and v is not None}


SHAPES: dict[str, type] = {
    "system": shapes.SystemSection,
    "interfaces": shapes.Interface,
    "wan": shapes.Wan,
    "radios": shapes.Radio,
    "stations": shapes.Station,
    "quality": shapes.LinkQuality,
    "neighbours": shapes.Neighbour,
    "topology": shapes.TopologyLink,
}
