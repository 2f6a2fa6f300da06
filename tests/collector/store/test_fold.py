"""The fold's own decode: it must declare every field the fold reads, and fold what the whole body folds."""

from __future__ import annotations

import typing
from typing import Any

from collector.profiles.merge import fold_into
from collector.profiles.rollup import WindowBody, fold_window, window_contribution
from collector.store.folding import fold_body
from tests.collector.profiles.test_rollup import START, body
from tests.collector.store.test_folding import reports


def _declared(hint: Any, path: str = "") -> set[str]:
    """Every key path a TypedDict declares (``stations[].mac``)."""
    out: set[str] = set()
    for key, value in typing.get_type_hints(hint).items():
        out.add(path + key)
        for arg in (value, *typing.get_args(value)):
            inner = typing.get_args(arg)[0] if typing.get_origin(arg) is list else arg
            if typing.is_typeddict(inner):
                out |= _declared(inner, f"{path}{key}{'[].' if inner is not arg else '.'}")
    return out


class _Reads(dict[str, Any]):
    """A body that records each key path read from it."""

    def __init__(self, data: dict[str, Any], seen: set[str], path: str = "") -> None:
        super().__init__(data)
        self.seen, self.path = seen, path

    def _wrap(self, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return _Reads(value, self.seen, f"{self.path}{key}.")
        if isinstance(value, list):
            return [_Reads(v, self.seen, f"{self.path}{key}[].") if isinstance(v, dict) else v for v in value]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(self.path + key)
        return self._wrap(key, super().get(key, default))

    def __getitem__(self, key: str) -> Any:
        self.seen.add(self.path + key)
        return self._wrap(key, super().__getitem__(key))

    def __contains__(self, key: object) -> bool:
        self.seen.add(f"{self.path}{key}")
        return super().__contains__(key)


def test_the_fold_decode_declares_every_field_the_fold_reads() -> None:
    seen: set[str] = set()
    for b in (body(), *(m.body for m in reports("fold-decl", 3))):
        fold_window({}, _Reads(b, seen), START, START + 900)
    assert seen - _declared(WindowBody) == set()


def test_the_fold_decode_folds_what_the_whole_body_folds() -> None:
    for m in reports("fold-same", 8):
        whole = fold_into({}, window_contribution(m.body, m.window_start, m.window_end))
        assert fold_window({}, fold_body(m), m.window_start, m.window_end) == whole
