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

    joint = table(text, "## Joint scheme")
    assert joint[0] == ["K", "active", "native exact", "native bisection",
                        "NumPy reference, exact", "NumPy reference, bisection",
                        "cvxpy + Clarabel", "NumPy floor", "exact / floor"]
    assert [row[0] for row in joint[1:]] == ["10", "100", "1,000"]
    for row in joint[1:]:
        assert len(row) == len(joint[0])
        assert all(cell != "-" for cell in row), row  # every method measured at these sizes
        assert all("x)" in cell for cell in row[3:7]), row  # ratios over native exact

    targets = table(text, "## Targets")
    assert len(targets) == 1 + 7
    results = {row[0]: row[2] for row in targets[1:]}
    assert all(result in ("PASS", "FAIL", "not measured") for result in results.values())
    assert results["K = 10^6: native exact within 5x of the NumPy floor"] == "not measured"
    assert sum(result != "not measured" for result in results.values()) == 6

    batch = table(text, "## Batch throughput")
    assert [row[0] for row in batch[1:]] == ["1", "2"]
    memory = table(text, "## Peak memory")
    assert len(memory) == 2 and memory[1][3].endswith("MiB")
    assert "wrote" in done.stderr and "K = 1000:" in done.stderr
