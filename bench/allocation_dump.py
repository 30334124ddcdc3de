"""Dump every field of every allocation of a fixed set of calls, for bit-for-bit comparisons.

    python bench/allocation_dump.py --out before.txt     # on one version of the code
    python bench/allocation_dump.py --out after.txt      # on another
    cmp before.txt after.txt                             # identical files: identical answers

A refactor that must not change any answer (moving a kernel between files, splitting the
binding) is checked by dumping on both sides and comparing the files byte for byte. Each line is
one call: a case name and either the exact answer (every float as ``float.hex``, every array as the
SHA-256 of its bytes, with its dtype and shape) or the exception it raised (type and message).

The calls: every scheme and every joint method on each instance of the named corpus
(:mod:`paba.testing`), with and without a previous allocation, with given loads and bandwidth, and
rounded to granules; the same on random instances (a few thousand by default: one worker per
group or groups, with or without alpha and tau, K from 1 to 40, plus larger ones that reach the
exact method's cut start and sample, and the Newton method's screen); evaluate; batches (2-D,
ragged, with groups, on 1 and 2 threads). Every call runs on both backends.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from collections.abc import Callable, Iterator

import numpy as np

import paba
from paba.testing import corpus

BACKENDS = ("native", "reference")
JOINT_METHODS = ("auto", "exact", "newton", "bisection")


def _field(value) -> str:
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:32]
        return f"{value.dtype.str}{list(value.shape)}:{digest}"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return float(value).hex()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, tuple):
        return "(" + ",".join(_field(item) for item in value) + ")"
    return repr(value)


ALLOCATION_FIELDS = tuple(f.name for f in dataclasses.fields(paba.Allocation))
BATCH_FIELDS = ("loads", "relaxed_loads", "bandwidth", "worker_latency", "latency",
                "relaxed_latency", "iterations", "converged", "method", "offsets",
                "group_offsets", "scheme", "backend")


def _record(value) -> str:
    if isinstance(value, paba.Allocation):
        return " ".join(f"{name}={_field(getattr(value, name))}" for name in ALLOCATION_FIELDS)
    if isinstance(value, paba.BatchAllocation):
        return " ".join(f"{name}={_field(getattr(value, name))}" for name in BATCH_FIELDS)
    if isinstance(value, tuple):
        return " ".join(_record(item) for item in value)
    return _field(value)


def _outcome(call: Callable[[], object]) -> str:
    try:
        return _record(call())
    except Exception as error:  # the exception is part of the answer
        return f"raised {type(error).__name__}: {error}"


def _log_uniform(rng: np.random.Generator, low: float, high: float, size) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _random_system(rng: np.random.Generator, K: int) -> paba.System:
    kind = rng.integers(4)
    kw: dict = {}
    if kind in (1, 3) and K > 1:
        N = int(rng.integers(1, K + 1))
        groups = np.concatenate([np.arange(N), rng.integers(0, N, K - N)])
        kw["groups"] = rng.permutation(groups)
    if kind in (2, 3):
        kw["alpha"] = _log_uniform(rng, 1e2, 1e6, K) * (rng.random(K) < 0.7)
        kw["tau"] = rng.uniform(0.0, 1.0, K) * (rng.random(K) < 0.7)
    params = int(rng.choice([1, 3, 10**3, 10**6, 10**8]))
    return paba.System(_log_uniform(rng, 0.1, 100.0, K), _log_uniform(rng, 1e-8, 1e-4, K),
                       params=params, bandwidth=float(_log_uniform(rng, 1e5, 1e8, 1)[0]), **kw)


def _calls_on(name: str, system: paba.System, rng: np.random.Generator,
              full: bool) -> Iterator[tuple[str, Callable[[], object]]]:
    N = system.n_groups
    for backend in BACKENDS:
        for scheme in paba.SCHEMES:
            methods = JOINT_METHODS if scheme == "joint" else ("auto",)
            for method in methods:
                if method == "bisection" and not full:
                    continue
                yield (f"{name} {backend} {scheme} {method}",
                       lambda s=scheme, m=method, b=backend: paba.allocate(
                           system, s, method=m, backend=b))
        if not full:
            continue
        yield (f"{name} {backend} joint bisection tol=1e-4",
               lambda b=backend: paba.allocate(system, "joint", method="bisection", tol=1e-4,
                                               backend=b))
        loads = np.bincount(rng.integers(0, N, 64), minlength=N).astype(np.int64)
        loads = (loads * (system.params // 64)).astype(np.int64)
        loads[int(np.argmax(loads))] += system.params - int(loads.sum())
        share = _log_uniform(rng, 0.1, 10.0, system.n_workers)
        bandwidth = share / share.sum() * system.bandwidth * 0.999
        x, w = loads.copy(), bandwidth.copy()  # this iteration's, bound to the calls below
        yield (f"{name} {backend} parameter_aware loads",
               lambda b=backend, x=x: paba.allocate(system, "parameter_aware", loads=x,
                                                    backend=b))
        yield (f"{name} {backend} bandwidth_aware bandwidth",
               lambda b=backend, w=w: paba.allocate(system, "bandwidth_aware", bandwidth=w,
                                                    backend=b))
        yield (f"{name} {backend} evaluate",
               lambda b=backend, x=x, w=w: paba.evaluate(system, x, w, backend=b))

        def warm(b=backend):
            first = paba.allocate(system, "joint", backend=b)
            return paba.allocate(system, "joint", previous=first, backend=b)

        yield f"{name} {backend} joint previous", warm
        if system.params >= 8:
            sizes = np.maximum(1, rng.integers(1, 5, 8))
            sizes = sizes * (system.params // int(sizes.sum()))
            sizes[0] += system.params - int(sizes.sum())
            granules = paba.Granules.from_sizes(sizes)
            for scheme in ("joint", "equal", "bandwidth_aware", "sequential"):
                yield (f"{name} {backend} granules {scheme}",
                       lambda s=scheme, b=backend, g=granules: paba.round_to_granules(
                           system, paba.allocate(system, s, backend=b), g, backend=b))


def _batch_calls(rng: np.random.Generator) -> Iterator[tuple[str, Callable[[], object]]]:
    M, K = 12, 9
    beta = _log_uniform(rng, 0.1, 100.0, (M, K))
    compute = _log_uniform(rng, 1e-8, 1e-4, (M, K))
    params = rng.choice([10**3, 10**6], M)
    bandwidth = _log_uniform(rng, 1e5, 1e8, M)
    alpha = _log_uniform(rng, 1e2, 1e6, (M, K))
    tau = rng.uniform(0.0, 1.0, (M, K))
    sizes = rng.integers(1, 20, 10)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    total = int(offsets[-1])
    flat_beta = _log_uniform(rng, 0.1, 100.0, total)
    flat_compute = _log_uniform(rng, 1e-8, 1e-4, total)
    groups = np.concatenate([rng.integers(0, max(1, s // 2), s) for s in sizes])
    for i in range(len(sizes)):  # ids 0..n-1 each used
        part = groups[offsets[i]:offsets[i + 1]]
        _, part[:] = np.unique(part, return_inverse=True)
    for backend in BACKENDS:
        for threads in (1, 2):
            for scheme in paba.SCHEMES:
                methods = JOINT_METHODS if scheme == "joint" else ("auto",)
                for method in methods:
                    tag = f"batch {backend} t{threads} {scheme} {method}"
                    yield (f"{tag} 2d", lambda s=scheme, m=method, b=backend, t=threads:
                           paba.allocate_batch(beta, compute, params, bandwidth, scheme=s,
                                               method=m, n_threads=t, backend=b))
                    yield (f"{tag} 2d alpha tau", lambda s=scheme, m=method, b=backend, t=threads:
                           paba.allocate_batch(beta, compute, params, bandwidth, scheme=s,
                                               method=m, alpha=alpha, tau=tau, n_threads=t,
                                               backend=b))
                    yield (f"{tag} ragged groups",
                           lambda s=scheme, m=method, b=backend, t=threads: paba.allocate_batch(
                               flat_beta, flat_compute, 10**6, 1e7, scheme=s, method=m,
                               offsets=offsets, groups=groups, n_threads=t, backend=b))


def calls(n_random: int, seed: int) -> Iterator[tuple[str, Callable[[], object]]]:
    rng = np.random.default_rng(seed)
    for name, system in corpus().items():
        yield from _calls_on(f"corpus:{name}", system, rng, full=True)
    for i in range(n_random):
        K = int(rng.integers(1, 41))
        system = _random_system(rng, K)
        yield from _calls_on(f"random:{i}:K={K}", system, rng, full=i % 4 == 0)
    # Large instances: the exact method's cut start (256 to 8,191 workers) and sample (8,192 and
    # more), the Newton method's screen (128 groups and more).
    for i, K in enumerate((200, 300, 1000, 5000, 9000, 20000)):
        for with_costs in (False, True):
            system = _random_system(rng, K) if with_costs else paba.System(
                _log_uniform(rng, 0.1, 100.0, K), _log_uniform(rng, 1e-8, 1e-4, K),
                params=10**8, bandwidth=1e7)
            yield from _calls_on(f"large:{i}:K={K}:{with_costs}", system, rng, full=False)
    yield from _batch_calls(rng)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="file to write the dump to")
    parser.add_argument("--random", type=int, default=2000, help="random instances (2000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    count = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for name, call in calls(args.random, args.seed):
            out.write(f"{name}: {_outcome(call)}\n")
            count += 1
            if count % 2000 == 0:
                print(f"{count} calls", file=sys.stderr)
    print(f"{count} calls written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
