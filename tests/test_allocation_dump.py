"""bench/allocation_dump.py, the bit-for-bit check of refactors: it must cover every scheme,
method and backend, record answers and exceptions exactly, and write the same file twice."""

import importlib.util
import re
from pathlib import Path

import paba

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "allocation_dump.py"


def _load():
    spec = importlib.util.spec_from_file_location("allocation_dump", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dump_covers_every_call_and_repeats_exactly(tmp_path):
    dump = _load()
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    assert dump.main(["--out", str(first), "--random", "4"]) == 0
    assert dump.main(["--out", str(second), "--random", "4"]) == 0
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text().splitlines()
    names = [line.split(": ", 1)[0] for line in lines]
    assert len(set(names)) == len(names), "every call has a name of its own"
    for backend in ("native", "reference"):
        for scheme in paba.SCHEMES:
            assert any(f" {backend} {scheme} " in name for name in names), (backend, scheme)
        for method in paba.METHODS:
            assert any(f"{backend} joint {method}" in name for name in names), (backend, method)
        assert any(name.startswith(f"batch {backend} t2") for name in names)
        assert any(f"{backend} granules" in name for name in names)
    assert any(name.startswith("large:") for name in names)
    answers = [line.split(": ", 1)[1] for line in lines]
    # An answer is every field, floats as exact hex; a refusal is its exception and message.
    for answer in answers:
        assert answer.startswith(("loads=", "raised ", "0x", "(")), answer[:80]
    assert sum(answer.startswith("raised ValueError: method: 'exact'") for answer in answers) > 0
    assert re.search(r"latency=-?0x1\.[0-9a-f]+p[+-]\d+", "\n".join(answers))


def test_a_changed_answer_changes_its_line():
    dump = _load()
    system = paba.System([8.0, 16.0], [2e-6, 1e-6], params=10**6, bandwidth=1e7)
    one = dump._record(paba.allocate(system, "joint"))
    other = dump._record(paba.allocate(system, "joint", method="bisection", tol=1e-3))
    assert one != other
    assert one == dump._record(paba.allocate(system, "joint"))
