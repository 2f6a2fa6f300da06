"""The tests' rule for the C extensions: `make test`, and so CI, requires each one built, so a
failed build fails the run instead of skipping its tests. Only ``HOMESCOPE_OPTIONAL_C=1``, set to
test a collector installed without a compiler on purpose, lets the tests of a missing one skip."""

from __future__ import annotations

import os
from types import ModuleType

import pytest

OPTIONAL = os.environ.get("HOMESCOPE_OPTIONAL_C") == "1"


def needs(module: ModuleType | None) -> pytest.MarkDecorator:
    """The mark for a test of ``module``: it skips only where that is not built and may not be."""
    return pytest.mark.skipif(module is None and OPTIONAL, reason="HOMESCOPE_OPTIONAL_C=1 and not built")


def require_built(module: ModuleType | None, name: str) -> None:
    """Fail (not skip) when the extension ``name`` is not built, unless ``HOMESCOPE_OPTIONAL_C=1``."""
    if module is None and not OPTIONAL:
        pytest.fail(
            f"{name} is not built: install a C compiler and Python headers "
            "(scripts/system-deps.sh python), then `HOMESCOPE_REQUIRE_C=1 pip install -e '.[dev]'` "
            "(make does); set HOMESCOPE_OPTIONAL_C=1 only to test the way without it",
            pytrace=False,
        )
