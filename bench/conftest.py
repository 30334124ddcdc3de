"""Benchmarks: every benchmark checks its answer against the reference before it is timed, and
the session ends with the speed ratio of native over reference measured in this one run."""

import collections

import pytest

_timings = collections.defaultdict(dict)


@pytest.fixture
def record_timing():
    """Call with (group, backend, benchmark) after a benchmark ran, to report ratios."""
    def record(group, backend, benchmark):
        if benchmark.stats is not None:  # None under --benchmark-disable
            _timings[group][backend] = benchmark.stats.stats.median
    return record


def pytest_terminal_summary(terminalreporter):
    rows = [(group, t["reference"] / t["native"], t["native"], t["reference"])
            for group, t in sorted(_timings.items()) if {"native", "reference"} <= t.keys()]
    if not rows:
        return
    terminalreporter.section("native speed-up over the NumPy reference (medians, this run)")
    terminalreporter.write_line(
        f"{'instance / scheme':<40}{'native':>12}{'reference':>12}{'ratio':>9}")
    for group, ratio, native, reference in rows:
        terminalreporter.write_line(
            f"{group:<40}{native * 1e6:>10.1f}us{reference * 1e6:>10.1f}us{ratio:>8.1f}x")
