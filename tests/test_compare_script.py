"""Smoke test of bench/compare.py: the quick run checks every answer, exits 0 and writes the
Markdown report with the expected tables, rows and columns."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "compare.py"

pytest.importorskip("cvxpy")


def table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table after ``heading``."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [rows[0]] + rows[2:]  # without the alignment row


@pytest.mark.slow
def test_quick_run_writes_the_report(tmp_path):
    out = tmp_path / "benchmarks.md"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert text in done.stdout
    assert "python bench/compare.py --quick --out" in text
    assert "model name" not in text and "Machine:" in text

    # The headline: every comparison with a peer, a ratio measured in this run, and a verdict
    # where the issue sets a target; the reference twin is not among the peers.
    # The targets at the worst cell of the regime grid (bench/grid.py), with a figure.
    targets = table(text, "## Targets on the regime grid")
    assert targets[0][:5] == ["target", "worst cell", "ratio there", "target", "cells"]
    assert len(targets) == 1 + 8
    measured = [row for row in targets[1:] if row[5] == "smoke run"]
    assert len(measured) >= 6 and all(int(row[4]) >= 1 for row in measured)
    assert all(row[5] == "not measured" for row in targets[1:] if row not in measured)
    assert "## The regime grid, cell by cell" in text
    assert (tmp_path / "benchmarks-grid.png").stat().st_size > 10_000

    headline = table(text, "## The reference cell")
    assert headline[0] == ["case", "paba", "against", "its time", "ratio", "target", "result"]
    against = {row[2] for row in headline[1:]}
    assert against == {"numpy_basic_joint", "cvxpy + Clarabel", "NumPy floor",
                       "exact method, basic instance of the same K", "numpy_general_joint"}
    assert "reference" not in "".join(cell for row in headline for cell in row)
    results = {(row[0], row[2]): row for row in headline[1:]}
    basic = results[("basic, K = 1,000, end to end from NumPy arrays", "numpy_basic_joint")]
    assert basic[4].startswith("numpy / paba = ") and basic[6] in ("PASS", "MISS")
    big = results[("basic, K = 1,000,000, end to end from NumPy arrays", "NumPy floor")]
    assert big[6] == "not measured"  # no K = 10^6 in the quick run
    for case in ("singletons", "groups of 1-10"):
        name = f"general {case}, K = 100, prebuilt System"
        for peer in ("exact method, basic instance of the same K", "numpy_general_joint",
                     "cvxpy + Clarabel"):
            row = results[(name, peer)]
            assert row[1] != "-" and row[3] != "-" and " = " in row[4], row
        assert results[(name, "exact method, basic instance of the same K")][6] in (
            "PASS", "MISS")
    assert all(row[6] in ("PASS", "MISS", "not measured", "-") for row in headline[1:])
    if any(row[6] == "MISS" for row in headline[1:]):
        assert "Why targets miss:" in text

    others = table(text, "## Other targets")
    assert len(others) == 1 + 4
    assert all(row[2] in ("PASS", "MISS") for row in others[1:])

    e2e = table(text, "## Basic model, end to end")
    assert e2e[0][:6] == ["K", "paba end to end", "System(...) alone",
                          "allocate on the prebuilt System", "numpy_basic_joint", "NumPy floor"]
    assert [row[0] for row in e2e[1:]] == ["10", "100", "1,000"]
    assert all("-" not in row for row in e2e[1:])

    prebuilt = table(text, "## Basic model, prebuilt")
    assert prebuilt[0] == ["K", "active", "native exact", "native bisection",
                           "cvxpy + Clarabel", "NumPy floor", "exact / floor"]
    assert [row[0] for row in prebuilt[1:]] == ["10", "100", "1,000"]
    for row in prebuilt[1:]:
        assert all(cell != "-" for cell in row), row  # every method measured at these sizes
        assert all("x)" in cell for cell in row[3:5]), row  # ratios over native exact

    general = table(text, "## General model")
    assert [row[:2] for row in general[1:]] == [["singletons", "100"], ["groups of 1-10", "100"]]
    assert all(cell != "-" for row in general[1:] for cell in row)

    twin = table(text, "## NumPy reference twin")
    assert [row[0] for row in twin[1:]] == ["10", "100", "1,000"]
    assert all("x)" in cell for row in twin[1:] for cell in row[1:])

    batch = table(text, "## Batch throughput")
    assert [row[0] for row in batch[1:]] == ["1", "2"]
    memory = table(text, "## Peak memory")
    assert [row[0].split()[0] for row in memory[1:]] == ["exact", "general"]
    assert all(row[5].endswith("MiB") for row in memory[1:])
    assert "wrote" in done.stderr and "K = 1000:" in done.stderr
