"""Types of the C extension collector/store/_plan.c (see its comment and plan.figures)."""

from typing import Any

# a struct sequence with the fields of the reference's record (the same names, the same order)
from collector.store.plan import Figures as Figures

class Unsupported(ValueError): ...

def configure(unset: Any, weak_signal_dbm: int, /) -> None: ...
def report(packed: bytes, previous: str | None, rebooted: bool, /) -> Figures: ...
