"""The shape of the code (docs/architecture.md): the import contracts hold, the C++ stays free of
Python, the command line takes its choices from the library's option tuples, and every
reference to a section of the docs points at a section that exists."""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import paba
from paba import cli
from paba._backend import BACKENDS
from paba._scenario import FADING
from paba._scheduler import CSI_MODES
from paba.training import MODELS, OPTIMIZERS, SHARDING

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """import-linter over the source tree: the layers of pyproject.toml, no circles."""
    command = shutil.which("lint-imports")
    assert command, "import-linter is part of the test extra"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    result = subprocess.run([command, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout or " broken" not in result.stdout


def test_the_kernels_never_include_python():
    sources = [*(ROOT / "src").rglob("*.cpp"), *(ROOT / "src").rglob("*.hpp")]
    assert sources
    for path in sources:
        text = path.read_text()
        assert "Python.h" not in text and "pybind" not in text, path


def test_the_public_package_type_checks():
    """mypy over python/paba with the settings of pyproject.toml (the bodies of functions
    without annotations checked too: check_untyped_defs)."""
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                             str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_ruff_passes():
    """ruff over the source, the tests and the benchmarks with the rules of pyproject.toml
    (pyflakes, bugbear, pyupgrade, isort)."""
    command = shutil.which("ruff")
    assert command, "ruff is part of the test extra"
    result = subprocess.run([command, "check", "python", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


# Every option with choices takes them from a tuple of the library, so that a new scheme or mode
# reaches the command line without a second list.
OPTION_TUPLES = [paba.SCHEMES, BACKENDS, FADING, tuple(f for f in FADING if f != "none"),
                 CSI_MODES, MODELS, OPTIMIZERS, SHARDING]


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def test_command_line_choices_come_from_the_library():
    checked = 0
    for command, sub in _subparsers(cli.build_parser()):
        for action in sub._actions:
            if action.choices is None:
                continue
            assert tuple(action.choices) in OPTION_TUPLES, (command, action.dest, action.choices)
            checked += 1
    assert checked >= 8


def test_every_command_names_a_study_with_arguments_and_main():
    for command, (module, _, _) in cli.COMMANDS.items():
        study = __import__(f"paba.studies.{module}", fromlist=["main"])
        assert callable(study.add_arguments) and callable(study.main), command


# "docs/algorithms.md 3.5.1", "docs/scenarios.md section 5", "docs/training.md sections 1 and 2"
REFERENCE = re.compile(r"docs/([a-z_]+)\.md(?:,? (?:sections? )?(\d+(?:\.\d+)*)"
                       r"(?: and (\d+(?:\.\d+)*))?)?")
HEADING = re.compile(r"^#+ (\d+(?:\.\d+)*)\.? ", re.MULTILINE)


def _sections(name: str) -> set[str] | None:
    path = ROOT / "docs" / f"{name}.md"
    if not path.exists():
        return None
    return set(HEADING.findall(path.read_text()))


def _lines(path: pathlib.Path) -> int:
    return len(path.read_text().splitlines())


def test_one_algorithm_per_file_with_a_twin_of_the_same_name():
    # docs/architecture.md, "The kernels, file by file": every kernel file within 1,100 lines,
    # opening with its design comment, with a NumPy twin of the same name within 600 lines; the
    # binding's files within 450 lines; allocation.cpp the dispatch only.
    kernels = ROOT / "src" / "kernels"
    twins = ROOT / "python" / "paba" / "reference"
    sources = sorted(kernels.glob("*.cpp"))
    assert len(sources) >= 9
    for source in sources:
        assert _lines(source) <= 1100, source.name
        assert source.read_text().startswith("// "), f"{source.name}: no design comment"
        twin = twins / f"{source.stem}.py"
        assert twin.exists(), f"{source.name} has no twin reference/{twin.name}"
    for twin in twins.glob("*.py"):
        assert _lines(twin) <= 600, twin.name
    assert _lines(kernels / "allocation.cpp") <= 500
    folder = ROOT / "src" / "binding"
    binding = [*folder.glob("*.pyx"), *folder.glob("*.pxi"), ROOT / "python" / "paba" / "_core.pyi"]
    assert len(binding) >= 6
    for path in binding:
        assert _lines(path) <= 450, path.name
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    for source in sources:
        assert f"`{source.name}`" in architecture, f"docs/architecture.md does not place {source.name}"


def test_every_docs_reference_points_at_a_real_section():
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for folder, patterns in (("python", ("*.py", "*.pyi")), ("src", ("*.cpp", "*.hpp", "*.pyx",
                                                                     "*.pxd", "*.pxi")),
                             ("bench", ("*.py",)), ("tests", ("*.py",))):
        for pattern in patterns:
            files += list((ROOT / folder).rglob(pattern))
    broken, seen = [], 0
    for path in files:
        for match in REFERENCE.finditer(path.read_text()):
            sections = _sections(match.group(1))
            where = f"{path.relative_to(ROOT)}: {match.group(0)}"
            if sections is None:
                broken.append(f"{where} (no such file)")
                continue
            for number in filter(None, match.groups()[1:]):
                seen += 1
                if number not in sections:
                    broken.append(f"{where} (no section {number})")
    assert seen > 50
    assert not broken, "\n".join(broken)


def test_no_reference_to_documents_outside_the_repository():
    pattern = re.compile(r"\bSPEC\b|\b[Ii]ssue \d+\b")
    offenders = []
    for folder in ("python", "src", "docs", "bench"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".pyx", ".pxd", ".cpp", ".hpp", ".md") and \
                    pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    if pattern.search((ROOT / "README.md").read_text()):
        offenders.append("README.md")
    assert not offenders, offenders


def test_importing_paba_imports_no_study():
    """The root exports paba.Sweep from the sweep's engine (paba._sweep), which sits below the
    studies: importing paba loads no module of paba.studies, paba.training or paba.cli, and
    neither pandas nor Dask."""
    code = ("import sys, paba; print(sorted(m for m in sys.modules if m.split('.')[0] == 'paba' "
            "and m.split('.')[1:2] in (['studies'], ['training'], ['cli'], ['distributed']) "
            "or m in ('pandas', 'dask', 'distributed')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    import paba
    from paba._sweep import Sweep
    from paba.studies import sweep

    assert paba.Sweep is Sweep is sweep.Sweep


def test_solver_defaults_are_defined_once_in_the_kernels():
    """tol, exact_passes and screen default to paba.hpp's Options{}, which the binding exports:
    every Python signature takes them from there, and the twins (a leaf, which imports nothing
    of paba) hold the same values."""
    import inspect

    from paba import _core
    from paba.reference import allocation as twin
    from paba.reference import batch as twin_batch

    assert (_core.DEFAULT_TOL, _core.DEFAULT_EXACT_PASSES, _core.DEFAULT_SCREEN) == (1e-9, 12, True)
    python = {
        "allocate": inspect.signature(paba.allocate).parameters["tol"].default,
        "allocate_batch": inspect.signature(paba.allocate_batch).parameters["tol"].default,
        "Scheduler": inspect.signature(paba.Scheduler).parameters["tol"].default,
    }
    assert all(value is _core.DEFAULT_TOL for value in python.values()), python
    native = inspect.signature(_core.allocate).parameters
    assert native["tol"].default == _core.DEFAULT_TOL
    assert inspect.signature(_core.allocate_batch).parameters["tol"].default == _core.DEFAULT_TOL
    assert native["exact_passes"].default == _core.DEFAULT_EXACT_PASSES
    assert native["screen"].default is _core.DEFAULT_SCREEN
    for function in (twin.allocate, twin_batch.allocate_batch):
        assert inspect.signature(function).parameters["tol"].default == _core.DEFAULT_TOL
