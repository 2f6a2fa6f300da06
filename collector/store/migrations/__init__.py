"""Numbered SQL migrations per backend, applied in order and recorded in the database."""

from __future__ import annotations

from importlib import resources


def migrations(backend: str) -> list[tuple[int, str]]:
    """(version, sql) for every ``NNN_name.sql`` of ``backend``, in order."""
    folder = resources.files(__package__).joinpath(backend)
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers for {backend}: {versions}")
    return found
