"""The test command collects tests/ and bench/ in one session, where two test modules of the same
basename collide (pytest imports both as top-level modules) and stop the whole run."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique_across_tests_and_bench():
    names = {}
    for folder in ("tests", "bench"):
        for path in (ROOT / folder).glob("test_*.py"):
            names.setdefault(path.name, []).append(folder)
    clashes = {name: folders for name, folders in names.items() if len(folders) > 1}
    assert not clashes, f"rename one of each: {clashes}"
