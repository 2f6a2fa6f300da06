"""Only the optional C part; everything else is in pyproject.toml.

``protocol._keys`` speeds up the collector's duplicate-key check. It is optional: where it
does not build (no compiler, a gateway), ``protocol.codec`` proves the same the slow way.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("protocol._keys", ["protocol/_keys.c"], optional=True, extra_compile_args=["-O2"]),
    ]
)
