"""The processes bench/compare.py runs: cvxpy in one child process (a timeout per task), and the
peak memory of one solve in a fresh process. Each child is compare.py itself, started with
``--child``; its main dispatches here."""

from __future__ import annotations

import gc
import json
import select
import subprocess
import sys
import time
from pathlib import Path

import paba
from paba.testing import assert_allocations_close
from peers import (
    cvxpy_general_latency,
    cvxpy_joint_latency,
    general_instance,
    instance,
    numpy_general_joint,
)
from settings import (
    CVXPY_BASIC_ABOVE,
    CVXPY_GENERAL_ABOVE,
    CVXPY_GENERAL_BELOW,
    CVXPY_RTOL,
    EXACT_RTOL,
    NUMPY_GENERAL_RTOL,
)
from timing import SINGLE_S, CheckFailed, repeat

#: The script the children run (with --child).
SCRIPT = Path(__file__).resolve().parent / "compare.py"


def run_child(args: list[str], timeout: float | None, env=None):
    command = [sys.executable, str(SCRIPT), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise CheckFailed(f"child {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cvxpy_task(K: int, case: str, expected: float, budget: float) -> dict:
    """Time cvxpy on the basic instance (``case`` "basic") or a general one ("singletons",
    "groups"), after checking its first answer against ``expected`` (paba's latency)."""
    if case == "basic":
        system, peer = instance(K), cvxpy_joint_latency
    else:
        system, peer = general_instance(K, case == "groups"), cvxpy_general_latency

    def solve():
        return peer(system)

    start = time.perf_counter()
    latency = solve()
    first = time.perf_counter() - start
    error = latency / expected - 1.0
    ok = (-CVXPY_RTOL <= error <= CVXPY_BASIC_ABOVE if case == "basic"
          else -CVXPY_GENERAL_BELOW <= error <= CVXPY_GENERAL_ABOVE)
    out = {"latency": float(latency), "error": float(error), "first": first, "ok": bool(ok)}
    if ok:  # time only a checked answer
        median, repeats = (first, 1) if first > SINGLE_S else repeat(solve, budget)
        out.update(median=median, repeats=repeats)
    return out


def cvxpy_server() -> None:
    """The cvxpy child: imports cvxpy once (an import is paid once per process, so it is not
    timed), then answers one JSON task per line of stdin with one JSON line on stdout."""
    import cvxpy  # noqa: F401

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        task = json.loads(line)
        try:
            out = cvxpy_task(task["K"], task["case"], task["expect"], task["budget"])
        except MemoryError as error:  # cvxpy cannot solve this size here: reported, not failed
            out = {"out_of_memory": str(error)}
        except Exception as error:  # reported to the parent, which fails the check
            out = {"failed": f"{type(error).__name__}: {error}"}
        print(json.dumps(out), flush=True)


class CvxpyChild:
    """The parent's side of cvxpy_server: one process for every cvxpy measurement of the run,
    killed (and started afresh for the next task) when a task runs past its timeout."""

    def __init__(self):
        self.process = None

    def run(self, task: dict, timeout: float):
        """The task's result, or None when it ran past ``timeout`` seconds."""
        if self.process is None:
            self.process = subprocess.Popen(
                [sys.executable, str(SCRIPT), "--child", "cvxpy-server"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, bufsize=1)
            if self._read(120.0) is None:
                raise CheckFailed("the cvxpy child did not start: " + self._stop())
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.flush()
        out = self._read(timeout)
        if out is None:
            self._stop()
        elif "failed" in out:
            raise CheckFailed(f"cvxpy child, task {task}: {out['failed']}")
        return out

    def _read(self, timeout: float):
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def _stop(self) -> str:
        """Ends the child; its stderr."""
        self.process.kill()
        _, error = self.process.communicate()
        self.process = None
        return error.strip()[-2000:]

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=60)
            self.process = None


CVXPY = CvxpyChild()


def read_status(field: str) -> int:
    """A field of /proc/self/status in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def memory_child(K: int, case: str) -> None:
    """Peak RSS growth during one joint solve of K workers, after its check: the exact method
    on the basic instance (``case`` "exact"), or ``paba.allocate(system, "joint")`` on the
    general instance with groups ("general").

    Runs under MALLOC_MMAP_THRESHOLD_=65536 (set by the parent): every allocation of 64 KiB or
    more gets fresh pages and returns them when freed, so the RSS growth is the peak of what the
    solve holds live, not hidden by pages an earlier step freed into the heap.
    """
    if case == "exact":
        paba.allocate(instance(100), "joint", method="exact")  # load every code path first
        system = instance(K)
        native = paba.allocate(system, "joint", method="exact")
        reference = paba.allocate(system, "joint", method="exact", backend="reference")
        assert_allocations_close(native, reference, EXACT_RTOL)
        del native, reference

        def solve():
            return paba.allocate(system, "joint", method="exact")
        inputs = ("beta", "compute")
    else:
        paba.allocate(general_instance(100, True), "joint")
        system = general_instance(K, True)
        native = paba.allocate(system, "joint")
        k = system._kernel
        alpha, tau, groups = k.alpha, k.tau, k.groups
        peer = numpy_general_joint(system.beta, system.compute, system.params,
                                   system.bandwidth, groups, alpha, tau)
        # Not above the peer; below it where the certificate's branches found a better
        # participating set than the convex envelope's (docs/algorithms.md 3.5.1).
        if not native.relaxed_latency <= peer * (1.0 + NUMPY_GENERAL_RTOL):
            raise CheckFailed(f"K={K} general memory solve vs numpy_general_joint: relaxed "
                              f"latency {native.relaxed_latency!r} above {peer!r}")
        del native

        def solve():
            return paba.allocate(system, "joint")
        inputs = ("beta", "compute", "alpha", "tau", "groups")
    gc.collect()
    method = "VmHWM after writing 5 to /proc/self/clear_refs"
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = read_status("VmRSS")
        result = solve()
        peak = read_status("VmHWM")
    except OSError:  # no clear_refs: ru_maxrss, a lower bound if construction peaked higher
        import resource
        method = "ru_maxrss delta (a lower bound)"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result = solve()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    input_bytes = sum(getattr(system, name).nbytes for name in inputs)
    outputs = sum(getattr(result, name).nbytes
                  for name in ("loads", "relaxed_loads", "bandwidth", "worker_latency"))
    print(json.dumps({"K": K, "case": case, "growth": peak - before, "inputs": input_bytes,
                      "input_names": inputs, "outputs": outputs, "method": method,
                      "solver": result.method}))
