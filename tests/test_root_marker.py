"""The ``root`` marker's promise: as root (CI), a root test that skips fails instead."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]


def test_a_root_test_that_skips_fails_when_run_as_root(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import pytest_runtest_makereport  # noqa: F401\n")
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nmarkers =\n    root: needs root\n"
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.root
        def test_needs_a_namespace():
            pytest.skip("cannot build a network namespace here")

        def test_skips_for_another_reason():
            pytest.skip("not a root test: may skip")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    if os.geteuid() == 0:
        result.assert_outcomes(failed=1, skipped=1)
        result.stdout.fnmatch_lines(["*a root test skipped while running as root*network namespace*"])
    else:
        result.assert_outcomes(skipped=2)
