"""Benchmarks: every benchmark checks its answer against the reference before it is timed, and
the session ends with the speed ratio of native over reference measured in this one run, and,
for groups timed against another baseline (the native exact method, one thread), every entry's
time over that baseline."""

import collections

import pytest

_timings = collections.defaultdict(dict)

#: Baselines of the second summary, by precedence.
BASELINES = ("exact", "1 thread", "kernel binding", "whole iteration")


@pytest.fixture
def record_timing():
    """Call with (group, name, benchmark) after a benchmark ran, to report ratios. Names
    "native" and "reference" pair up; otherwise the group's baseline is the first of BASELINES
    it has."""
    def record(group, backend, benchmark):
        if benchmark.stats is not None:  # None under --benchmark-disable
            _timings[group][backend] = benchmark.stats.stats.median
    return record


def pytest_terminal_summary(terminalreporter):
    rows = [(group, t["reference"] / t["native"], t["native"], t["reference"])
            for group, t in sorted(_timings.items()) if {"native", "reference"} <= t.keys()]
    _baseline_summary(terminalreporter)
    if not rows:
        return
    terminalreporter.section("native speed-up over the NumPy reference (medians, this run)")
    terminalreporter.write_line(
        f"{'instance / scheme':<40}{'native':>12}{'reference':>12}{'ratio':>9}")
    for group, ratio, native, reference in rows:
        terminalreporter.write_line(
            f"{group:<40}{native * 1e6:>10.1f}us{reference * 1e6:>10.1f}us{ratio:>8.1f}x")


def _baseline_summary(terminalreporter):
    groups = [(group, next(name for name in BASELINES if name in t), t)
              for group, t in sorted(_timings.items())
              if len(t) > 1 and any(name in t for name in BASELINES)]
    if not groups:
        return
    terminalreporter.section("time over the group's baseline (medians, this run)")
    for group, baseline, t in groups:
        terminalreporter.write_line(f"{group} (baseline: {baseline})")
        for name, seconds in t.items():
            terminalreporter.write_line(
                f"    {name:<36}{seconds * 1e6:>14.1f}us{seconds / t[baseline]:>12.3g}x")
