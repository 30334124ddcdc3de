"""The C++ kernels under AddressSanitizer and UndefinedBehaviorSanitizer: thousands of random
and malformed instances (NaN, infinities, negative sizes, out-of-range group ids, zero bandwidth)
through every scheme and method, and ragged batches on one and two threads, straight into the
kernels without the Python checks in front, and the checks of paba.System (check_workers) on
values in and around their ranges."""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPILER = shutil.which("g++") or shutil.which("clang++")


@pytest.mark.skipif(COMPILER is None or not sys.platform.startswith("linux"),
                    reason="needs g++ or clang++ with sanitizers on Linux")
def test_kernels_survive_random_and_malformed_input(tmp_path):
    binary = tmp_path / "fuzz_kernels"
    build = subprocess.run(
        [COMPILER, "-std=c++17", "-O1", "-g", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", f"-I{ROOT / 'src' / 'kernels'}",
         str(ROOT / "tests" / "native" / "fuzz_kernels.cpp"),
         *map(str, sorted((ROOT / "src" / "kernels").glob("*.cpp"))), "-pthread",
         "-o", str(binary)],
        capture_output=True, text=True)
    if build.returncode != 0 and "sanitize" in build.stderr:
        pytest.skip(f"the compiler has no sanitizer runtime: {build.stderr[-300:]}")
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(binary), "4000"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    counts = dict(zip(run.stdout.split()[::2], map(int, run.stdout.split()[1::2]), strict=True))
    assert counts["ok"] > 10000 and counts["invalid"] > 1000, run.stdout
    assert counts["checked"] > 1000 and 0 < counts["faults"] < counts["checked"], run.stdout
    assert counts["rounded"] > 100, run.stdout
