"""Only the C part; everything else is in pyproject.toml.

``protocol._keys`` speeds up the collector's duplicate-key check ~10x (``collector.profiles._window``
the fold, ``collector.privacy._scrub`` the privacy rewrite at ingest). They are optional by
default: where they do not build (no compiler, a gateway), the Python references do the same
slower. ``HOMESCOPE_REQUIRE_C=1`` (set by ``make``, so by CI) makes a failed build fail
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
            # the computation, and what it reads (a decoded body or the report's msgpack: _window_read.h)
            ["collector/profiles/_window.c", "collector/profiles/_window_read.c"],
            depends=["collector/profiles/_window_read.h", "collector/msgpack_bytes.h"],
            optional=not REQUIRED,
            extra_compile_args=["-O2"],
        ),
        # what the ingest plan reads of a report, and its deltas (plan._figures_of is its reference),
        # read through the fold's msgpack reader with the plan's own layout
        Extension(
            "collector.store._plan",
            ["collector/store/_plan.c", "collector/profiles/_window_read.c"],
            depends=[
                "collector/profiles/_window_read.h",
                "collector/msgpack_bytes.h",
                "collector/byte_buffer.h",
            ],
            optional=not REQUIRED,
            extra_compile_args=["-O2"],
        ),
        # a report's privacy rewrite in one pass over its msgpack (scrub.Scrubber.message is its reference)
        Extension(
            "collector.privacy._scrub",
            ["collector/privacy/_scrub.c"],
            depends=["collector/msgpack_bytes.h", "collector/byte_buffer.h"],
            optional=not REQUIRED,
            extra_compile_args=["-O2"],
        ),
    ]
)
