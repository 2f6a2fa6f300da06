"""Only the C part; everything else is in pyproject.toml.

``protocol._keys`` speeds up the collector's duplicate-key check ~10x. It is optional by
default: where it does not build (no compiler, a gateway), ``protocol.inbound`` proves the same
the slow way. ``HOMESCOPE_REQUIRE_C=1`` (set by ``make``, so by CI) makes a failed build fail
the install instead of silently running the slow way.
"""

import os

from setuptools import Extension, setup

REQUIRED = os.environ.get("HOMESCOPE_REQUIRE_C") == "1"

setup(
    ext_modules=[
        Extension("protocol._keys", ["protocol/_keys.c"], optional=not REQUIRED, extra_compile_args=["-O2"]),
        # what a report window adds to its home's day (the fold's hot loop; rollup._window is its reference)
        Extension(
            "collector.profiles._window",
            ["collector/profiles/_window.c"],
            optional=not REQUIRED,
            extra_compile_args=["-O2"],
        ),
    ]
)
