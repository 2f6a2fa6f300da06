"""Types of the C extension collector/privacy/_scrub.c (see its comment and scrub.Scrubber.message)."""

from collections.abc import Callable

class Unsupported(ValueError): ...

def report(
    packed: bytes,
    memo: dict[str, str],
    mac: Callable[[str], str],
    names: Callable[[str | None, str | None], tuple[str | None, str | None]],
    keep_neighbour_names: bool,
    /,
) -> bytes: ...
