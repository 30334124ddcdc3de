"""NumPy reference twin of ``src/kernels/batch.cpp``: many instances in one call, solved one
by one."""

from __future__ import annotations

from typing import Any

import numpy as np

from .allocation import allocate
from .check import check_groups
from .internal import METHODS


def allocate_batch(scheme: Any, offsets: Any, beta: Any, compute: Any, alpha: Any, tau: Any,
                   params: Any, bandwidth: Any, previous_loads: Any = None, tol: Any = 1e-9,
                   method: Any = "auto", n_threads: Any = 1, group: Any = None,
                   group_offsets: Any = None) -> dict[str, Any]:
    """Solve the instances one by one (instance i owns the workers offsets[i]:offsets[i + 1] and,
    with group ids local to each instance, the groups group_offsets[i]:group_offsets[i + 1] of
    the per-group arrays); returns a dict of concatenated arrays, as the native batch does.
    n_threads is ignored."""
    M = offsets.size - 1
    if (group is None) != (group_offsets is None):
        raise ValueError("group_offsets: must be given with group ids, and only then")
    if group_offsets is None:
        group_offsets = offsets
    elif group_offsets[0] != 0:
        raise ValueError("group_offsets: must start at 0")
    else:
        steps, sizes = np.diff(group_offsets), np.diff(offsets)
        bad = np.flatnonzero((steps < 1) | (steps > sizes))
        if bad.size:
            raise ValueError("group_offsets: each instance's number of groups must be in "
                             f"[1, its number of workers] (instance {bad[0]})")
    parts = []
    for i in range(M):
        part = slice(offsets[i], offsets[i + 1])
        groups = slice(group_offsets[i], group_offsets[i + 1])
        N = group_offsets[i + 1] - group_offsets[i]
        try:
            if group is not None:
                check_groups(group[part], N)
            parts.append(allocate(
                scheme, beta[part], compute[part], None if alpha is None else alpha[part],
                None if tau is None else tau[part], None if group is None else group[part],
                int(N), params[i], bandwidth[i], tol=tol, method=method,
                previous_loads=None if previous_loads is None else previous_loads[groups]))
        except ValueError as error:
            raise ValueError(f"{error} (instance {i})") from None
    codes: dict[str | None, int] = {None: 0, **{name: code for code, name in enumerate(METHODS)
                                                 if code}}
    return {
        **{name: np.concatenate([p[name] for p in parts])
           for name in ("loads", "relaxed_loads", "bandwidth", "worker_latency")},
        **{name: np.array([p[name] for p in parts], dtype=dtype)
           for name, dtype in (("latency", np.float64), ("relaxed_latency", np.float64),
                               ("iterations", np.int64), ("status", np.int32))},
        "method": np.array([codes[p["method"]] for p in parts], dtype=np.int32),
    }
