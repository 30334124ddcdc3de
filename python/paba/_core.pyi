"""Type stub of the private binding module (src/binding/_core.pyx): its own defaults, then the
sections of the files it includes: names and status codes, storage, one allocation, batches,
input checks."""

from typing import Any

import numpy as np
import numpy.typing as npt

# _core.pyx: paba.hpp's Options{}
DEFAULT_TOL: float
DEFAULT_EXACT_PASSES: int
DEFAULT_SCREEN: bool

# _names.pxi
SCHEMES: tuple[str, ...]
METHODS: tuple[str, ...]
METHOD_NAMES: tuple[str | None, ...]
STATUS_OK: int
STATUS_NOT_CONVERGED: int
STATUS_INFEASIBLE: int
COARSE_GROUPS: int
CANDIDATE_MARGIN: float
WORKER_FAULTS: dict[int, str]
WORKER_INPUTS: dict[int, str]

# _storage.pxi
class SystemArrays:
    beta: np.ndarray
    compute: np.ndarray
    alpha: np.ndarray | None
    tau: np.ndarray | None
    groups: np.ndarray | None
    n_groups: int
    params: float
    bandwidth: float
    def __init__(self, beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
                 tau: np.ndarray | None, groups: np.ndarray | None, n_groups: int,
                 params: float, bandwidth: float) -> None: ...

def init_basic_system(
    system: Any, beta: Any, compute: Any, params: Any, bandwidth: Any
) -> bool: ...

# _allocate.pxi
def environment(name: str) -> str | None: ...

def allocate(
    scheme: str,
    beta: npt.NDArray[np.float64],
    compute: npt.NDArray[np.float64],
    alpha: npt.NDArray[np.float64] | None,
    tau: npt.NDArray[np.float64] | None,
    group: npt.NDArray[np.int64] | None,
    n_groups: int,
    params: float,
    bandwidth: float,
    loads_in: npt.NDArray[np.int64] | None = None,
    bandwidth_in: npt.NDArray[np.float64] | None = None,
    tol: float = ...,
    method: str = "auto",
    previous_loads: npt.NDArray[np.int64] | None = None,
    exact_passes: int = ...,
    screen: bool = ...,
) -> dict[str, Any]: ...
def allocate_system(kernel: SystemArrays, scheme: Any, method: Any, backend: Any,
                    result_type: type) -> Any: ...
def evaluate(
    beta: npt.NDArray[np.float64],
    compute: npt.NDArray[np.float64],
    alpha: npt.NDArray[np.float64] | None,
    tau: npt.NDArray[np.float64] | None,
    group: npt.NDArray[np.int64] | None,
    n_groups: int,
    loads: npt.NDArray[np.float64],
    bandwidth: npt.NDArray[np.float64],
) -> tuple[float, npt.NDArray[np.float64]]: ...

# _batch.pxi
def allocate_batch(
    scheme: str,
    offsets: npt.NDArray[np.int64],
    beta: npt.NDArray[np.float64],
    compute: npt.NDArray[np.float64],
    alpha: npt.NDArray[np.float64] | None,
    tau: npt.NDArray[np.float64] | None,
    params: npt.NDArray[np.float64],
    bandwidth: npt.NDArray[np.float64],
    previous_loads: npt.NDArray[np.int64] | None = None,
    tol: float = ...,
    method: str = "auto",
    n_threads: int = 1,
    group: npt.NDArray[np.int64] | None = None,
    group_offsets: npt.NDArray[np.int64] | None = None,
) -> dict[str, npt.NDArray[Any]]: ...

# _checks.pxi
def check_workers(
    beta: npt.NDArray[np.float64] | None,
    compute: npt.NDArray[np.float64] | None,
    alpha: npt.NDArray[np.float64] | None,
    tau: npt.NDArray[np.float64] | None,
    params: float,
    bandwidth: float,
    copy: bool = False,
) -> tuple[tuple[str, str, int] | None, tuple[npt.NDArray[np.float64], ...] | None]: ...
def round_up_dense(
    load: npt.NDArray[np.int64],
    speed: npt.NDArray[np.float64],
    R: int,
    L: float,
    T: float,
) -> bool: ...
