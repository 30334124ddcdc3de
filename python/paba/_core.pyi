"""Type stub of the private binding module (src/binding/_core.pyx)."""

from typing import Any

import numpy as np
import numpy.typing as npt

SCHEMES: tuple[str, ...]
METHODS: tuple[str, ...]
METHOD_NAMES: tuple[str | None, ...]
STATUS_OK: int
STATUS_NOT_CONVERGED: int
STATUS_INFEASIBLE: int

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
WORKER_FAULTS: dict[int, str]
WORKER_INPUTS: dict[int, str]

def environment(name: str) -> str | None: ...
def check_workers(
    beta: npt.NDArray[np.float64] | None,
    compute: npt.NDArray[np.float64] | None,
    alpha: npt.NDArray[np.float64] | None,
    tau: npt.NDArray[np.float64] | None,
    params: float,
    bandwidth: float,
    copy: bool = False,
) -> tuple[tuple[str, str, int] | None, tuple[npt.NDArray[np.float64], ...] | None]: ...

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
    tol: float = 1e-9,
    method: str = "auto",
    previous_loads: npt.NDArray[np.int64] | None = None,
    exact_passes: int = 12,
    screen: bool = True,
) -> dict[str, Any]: ...
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
    tol: float = 1e-9,
    method: str = "auto",
    n_threads: int = 1,
    group: npt.NDArray[np.int64] | None = None,
    group_offsets: npt.NDArray[np.int64] | None = None,
) -> dict[str, npt.NDArray[Any]]: ...
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
def allocate_system(kernel: SystemArrays, scheme: Any, method: Any, backend: Any,
                    result_type: type) -> Any: ...
def init_basic_system(
    system: Any, beta: Any, compute: Any, params: Any, bandwidth: Any
) -> bool: ...
