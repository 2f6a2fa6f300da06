def unique_keys(buffer: bytes, max_depth: int, /) -> bool:
    """One msgpack object, string map keys never repeated, containers at most ``max_depth`` deep."""
